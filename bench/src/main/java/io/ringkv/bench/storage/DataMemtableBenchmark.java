package io.ringkv.bench.storage;

import io.ringkv.storage.ApplyBatch;
import io.ringkv.storage.Mutation;
import io.ringkv.storage.PartitionStore;
import io.ringkv.storage.StorageEngine;
import io.ringkv.storage.StorageOptions;
import io.ringkv.storage.StoredValue;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The memtable work of the apply path on the {@code data} column family: a partition holds 200,000
 * keys (all still in the memtable), then one thread measures a get of an absent key (what every put
 * of a new key does first, to find the previous version), a get of a present key, and applying one
 * put of a new key (get + data and change record inserts). Compare builds with and without a
 * memtable option to see what it does to these paths.
 *
 * <p>Run: {@code java --enable-native-access=ALL-UNNAMED -jar bench/target/benchmarks.jar
 * DataMemtable -f 1 -wi 1 -w 3s -i 3 -r 3s}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 1, time = 3)
@Measurement(iterations = 3, time = 3)
public class DataMemtableBenchmark {
  static final long GROUP = 1;
  static final int KEYS_PRELOADED = 200_000;
  static final int PUTS_PER_BATCH = 1000;
  static final int VALUE_SIZE_BYTES = 100;

  private Path directory;
  private StorageEngine engine;
  private PartitionStore partition;
  private final byte[] value = new byte[VALUE_SIZE_BYTES];
  private long appliedIndex;
  private long nextAbsent;
  private long nextPresent;
  private long nextNew = KEYS_PRELOADED;

  @Setup(Level.Trial)
  public void open() {
    directory = BenchStores.newDirectory("ringkv-data-memtable-bench");
    engine =
        StorageEngine.open(StorageOptions.builder(directory.resolve("store"), "bench", 1).build());
    partition = engine.partition(GROUP);
    for (int first = 0; first < KEYS_PRELOADED; first += PUTS_PER_BATCH) {
      List<Mutation> puts = new ArrayList<>(PUTS_PER_BATCH);
      for (int key = first; key < first + PUTS_PER_BATCH; key++) {
        puts.add(new Mutation.Put(key(key), value, appliedIndex + 1));
      }
      appliedIndex++;
      partition.apply(ApplyBatch.of(appliedIndex, 1, 0, puts));
    }
  }

  @TearDown(Level.Trial)
  public void close() {
    engine.close();
    BenchStores.delete(directory);
  }

  /** Keys spread over the key space (a multiplicative hash), 16 bytes like a typical user key. */
  static byte[] key(long number) {
    return ByteBuffer.allocate(16).putLong(number * 0x9E3779B97F4A7C15L).putLong(number).array();
  }

  @Benchmark
  public Optional<StoredValue> getAbsentKey() {
    return partition.get(key(-1 - (nextAbsent++ % KEYS_PRELOADED)));
  }

  @Benchmark
  public Optional<StoredValue> getPresentKey() {
    return partition.get(key(nextPresent++ % KEYS_PRELOADED));
  }

  @Benchmark
  public void applyPutOfNewKey() {
    appliedIndex++;
    partition.apply(
        ApplyBatch.of(
            appliedIndex, 1, 0, List.of(new Mutation.Put(key(nextNew++), value, appliedIndex))));
  }
}
