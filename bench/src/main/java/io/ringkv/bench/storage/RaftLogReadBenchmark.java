package io.ringkv.bench.storage;

import io.ringkv.raft.Entry;
import io.ringkv.raft.EntryType;
import io.ringkv.storage.LogWrite;
import io.ringkv.storage.RaftLogStore;
import io.ringkv.storage.StorageEngine;
import io.ringkv.storage.StorageOptions;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The Raft core's reads of the recent log, as on the driver thread: {@code term(i)} of one of the
 * last 64 indexes, and {@code entries} of the last 16 (what a leader sends a follower that keeps
 * up), with the in-memory log cache off ({@code logCacheEntriesMax=0}, every read is a RocksDB get
 * or seek) and on (the default 1024).
 *
 * <p>Run: {@code java --enable-native-access=ALL-UNNAMED -jar bench/target/benchmarks.jar
 * RaftLogRead -f 1 -wi 1 -w 3s -i 3 -r 3s}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 1, time = 3)
@Measurement(iterations = 3, time = 3)
public class RaftLogReadBenchmark {
  static final long GROUP = 1;
  static final int ENTRIES = 4096;
  static final int ENTRY_SIZE_BYTES = 256;

  @Param({"0", "1024"})
  public int logCacheEntriesMax;

  private Path directory;
  private StorageEngine engine;
  private RaftLogStore log;
  private long lastIndex;
  private long next;

  @Setup(Level.Trial)
  public void open() {
    directory = BenchStores.newDirectory("ringkv-log-read-bench");
    engine =
        StorageEngine.open(
            StorageOptions.builder(directory.resolve("store"), "bench", 1)
                .logCacheEntriesMax(logCacheEntriesMax)
                .build());
    byte[] payload = new byte[ENTRY_SIZE_BYTES];
    for (long first = 1; first <= ENTRIES; first += 256) {
      List<Entry> batch = new ArrayList<>();
      for (long index = first; index < first + 256; index++) {
        batch.add(new Entry(1, index, EntryType.NORMAL, payload));
      }
      engine.groupCommitter().commit(List.of(LogWrite.of(GROUP, batch, null)));
    }
    log = engine.raftLog(GROUP);
    lastIndex = log.lastIndex();
  }

  @TearDown(Level.Trial)
  public void close() {
    engine.close();
    BenchStores.delete(directory);
  }

  @Benchmark
  public long termNearTail() {
    return log.term(lastIndex - (next++ & 63));
  }

  @Benchmark
  public int entriesOfTail() {
    return log.entries(lastIndex - 15, lastIndex + 1, Long.MAX_VALUE).size();
  }
}
