package io.ringkv.bench.storage;

import io.ringkv.raft.Entry;
import io.ringkv.raft.EntryType;
import io.ringkv.raft.HardState;
import io.ringkv.storage.raftlog.LogRecord;
import io.ringkv.storage.raftlog.SegmentedLog;
import io.ringkv.storage.raftlog.SegmentedLogOptions;
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
 * The segmented Raft log's counterpart of {@link GroupCommitBenchmark}: 1, 8 or 64 writer threads,
 * each appending one 1 KiB entry plus its hard state to its own group through {@link
 * SegmentedLog#submit} and waiting until it is durable (one write and one fdatasync per batch). The
 * primary score is appends/s; the {@code fsyncs} secondary score is fsyncs/s, from the log's own
 * count. Segments are 64 MiB (the default), so rollovers, each zero-filling a new file, are part of
 * what is measured.
 *
 * <p>Run: {@code java -jar bench/target/benchmarks.jar SegmentedLog -f 1 -wi 1 -i 3 -r 5s}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(1)
@Warmup(iterations = 1, time = 5)
@Measurement(iterations = 3, time = 5)
public class SegmentedLogBenchmark {
  private final AtomicLong writerIds = new AtomicLong();
  private Path directory;
  private SegmentedLog log;

  @Setup(Level.Trial)
  public void open() throws IOException {
    directory = Files.createTempDirectory("ringkv-segmented-log-bench");
    log = SegmentedLog.open(SegmentedLogOptions.defaults(directory));
  }

  @TearDown(Level.Iteration)
  public void report() {
    System.out.printf(
        "%n  fsyncs so far %d, mean records per fsync %.1f%n",
        log.fsyncCount(), (double) log.recordsWritten() / Math.max(1, log.fsyncCount()));
  }

  @TearDown(Level.Trial)
  public void close() throws IOException {
    log.close();
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
    final byte[] payload = new byte[GroupCommitBenchmark.ENTRY_SIZE_BYTES];

    @Setup(Level.Trial)
    public void assign(SegmentedLogBenchmark benchmark) {
      groupId = benchmark.writerIds.incrementAndGet();
    }

    void appendOne(SegmentedLog log) {
      long index = nextIndex++;
      Entry entry = new Entry(1, index, EntryType.NORMAL, payload);
      log.submit(
              List.of(
                  new LogRecord.Entries(groupId, List.of(entry)),
                  new LogRecord.HardStateMark(groupId, new HardState(1, 1, index - 1))))
          .join();
    }
  }

  /** fsyncs/s as a secondary score: only the first writer reports the log-wide count's growth. */
  @State(Scope.Thread)
  @AuxCounters(AuxCounters.Type.OPERATIONS)
  public static class FsyncCounter {
    public long fsyncs;
    private boolean reporter;
    private long seen;
    private SegmentedLog source;

    @Setup(Level.Trial)
    public void claim(SegmentedLogBenchmark benchmark, Writer writer) {
      reporter = writer.groupId == 1;
      source = benchmark.log;
    }

    @Setup(Level.Iteration)
    public void reset() {
      fsyncs = 0;
      seen = source.fsyncCount();
    }

    void observe() {
      if (reporter) {
        long now = source.fsyncCount();
        fsyncs += now - seen;
        seen = now;
      }
    }
  }

  @Benchmark
  @Threads(1)
  public void writers01(Writer writer, FsyncCounter counter) {
    writer.appendOne(log);
    counter.observe();
  }

  @Benchmark
  @Threads(8)
  public void writers08(Writer writer, FsyncCounter counter) {
    writer.appendOne(log);
    counter.observe();
  }

  @Benchmark
  @Threads(64)
  public void writers64(Writer writer, FsyncCounter counter) {
    writer.appendOne(log);
    counter.observe();
  }
}
