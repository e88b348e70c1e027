package io.ringkv.bench.storage;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.ringkv.raft.Entry;
import io.ringkv.raft.EntryType;
import io.ringkv.raft.HardState;
import io.ringkv.storage.LogWrite;
import io.ringkv.storage.StorageEngine;
import io.ringkv.storage.StorageOptions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.AuxCounters;
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
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Appends per second through group commit with 1, 8 and 64 concurrent writers, each appending one 1
 * KiB entry (plus its hard state) to its own Raft group and waiting until it is durable, as a
 * group's driver does. The primary score is appends/s; the {@code fsyncs} secondary score is
 * fsyncs/s, read from the engine's {@code ringkv.storage.fsyncs} counter. At the end of each
 * iteration the mean writes per fsync and the mean fsync latency (since the trial began) are
 * printed.
 *
 * <p>Run: {@code java --enable-native-access=ALL-UNNAMED -jar bench/target/benchmarks.jar
 * GroupCommit -f 1 -wi 1 -i 3 -r 5s}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 1, time = 5)
@Measurement(iterations = 3, time = 5)
public class GroupCommitBenchmark {
  static final int ENTRY_SIZE_BYTES = 1024;

  private final AtomicLong writerIds = new AtomicLong();
  private Path directory;
  private SimpleMeterRegistry registry;
  private StorageEngine engine;
  private Counter fsyncs;
  private DistributionSummary batchWrites;
  private Timer fsyncLatency;

  @Setup(Level.Trial)
  public void open() throws IOException {
    directory = Files.createTempDirectory("ringkv-group-commit-bench");
    registry = new SimpleMeterRegistry();
    engine =
        StorageEngine.open(
            StorageOptions.builder(directory.resolve("store"), "bench", 1)
                .meterRegistry(registry)
                .build());
    fsyncs = registry.counter("ringkv.storage.fsyncs");
    batchWrites = registry.summary("ringkv.storage.commit.batch.writes");
    fsyncLatency = registry.timer("ringkv.storage.fsync.latency");
  }

  @TearDown(Level.Iteration)
  public void report() {
    System.out.printf(
        "%n  fsyncs so far %.0f, mean writes per fsync %.1f, mean fsync latency %.2f ms%n",
        fsyncs.count(), batchWrites.mean(), fsyncLatency.mean(TimeUnit.MILLISECONDS));
  }

  @TearDown(Level.Trial)
  public void close() throws IOException {
    engine.close();
    try (Stream<Path> files = Files.walk(directory)) {
      for (Path file : files.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(file);
      }
    }
  }

  /** One writer: its own group, its next index, a 1 KiB payload. */
  @State(Scope.Thread)
  public static class Writer {
    long groupId;
    long nextIndex = 1;
    final byte[] payload = new byte[ENTRY_SIZE_BYTES];

    @Setup(Level.Trial)
    public void assign(GroupCommitBenchmark benchmark) {
      groupId = benchmark.writerIds.incrementAndGet();
    }

    void appendOne(StorageEngine engine) {
      long index = nextIndex++;
      Entry entry = new Entry(1, index, EntryType.NORMAL, payload);
      engine
          .groupCommitter()
          .submit(LogWrite.of(groupId, List.of(entry), new HardState(1, 1, index - 1)))
          .join();
    }
  }

  /**
   * fsyncs/s as a JMH secondary score: only the first writer reports, adding the growth of the
   * engine-wide counter it observes, so the sum over threads is the number of fsyncs.
   */
  @State(Scope.Thread)
  @AuxCounters(AuxCounters.Type.OPERATIONS)
  public static class FsyncCounter {
    public long fsyncs;
    private boolean reporter;
    private double seen;
    private Counter source;

    @Setup(Level.Trial)
    public void claim(GroupCommitBenchmark benchmark, Writer writer) {
      reporter = writer.groupId == 1;
      source = benchmark.fsyncs;
    }

    @Setup(Level.Iteration)
    public void reset() {
      fsyncs = 0;
      seen = source.count();
    }

    void observe() {
      if (reporter) {
        double now = source.count();
        fsyncs += (long) (now - seen);
        seen = now;
      }
    }
  }

  @Benchmark
  @Threads(1)
  public void writers01(Writer writer, FsyncCounter counter) {
    writer.appendOne(engine);
    counter.observe();
  }

  @Benchmark
  @Threads(8)
  public void writers08(Writer writer, FsyncCounter counter) {
    writer.appendOne(engine);
    counter.observe();
  }

  @Benchmark
  @Threads(64)
  public void writers64(Writer writer, FsyncCounter counter) {
    writer.appendOne(engine);
    counter.observe();
  }
}
