package io.ringkv.storage.raftlog;

import java.nio.file.Path;
import java.util.Objects;
import java.util.concurrent.ThreadFactory;
import java.util.function.LongSupplier;

/**
 * Settings of one {@link SegmentedLog}, validated when built.
 *
 * @param directory where the segment files live (created if missing)
 * @param segmentSizeBytes size every segment is preallocated to; a batch larger than this gets a
 *     segment of its own, as large as it needs
 * @param queueWritesMax writes that may wait for the writer thread before submitters wait
 * @param batchWritesMax queued writes the writer takes into one fsynced batch
 * @param writerThreadFactory makes the writer thread
 * @param debugUnsyncedWrites UNSAFE, testing only: batches stay in this process's memory, written
 *     to the file at most once per {@link #DEBUG_WRITE_OUT_INTERVAL_MILLIS} and never fsynced, yet
 *     acknowledged (see {@link SegmentedLog})
 * @param millisClock the time the planted bug's write-out interval is measured in
 */
public record SegmentedLogOptions(
    Path directory,
    long segmentSizeBytes,
    int queueWritesMax,
    int batchWritesMax,
    ThreadFactory writerThreadFactory,
    boolean debugUnsyncedWrites,
    LongSupplier millisClock) {

  /**
   * 64 MiB: large enough that a segment rolls over rarely (each rollover fills a new file with
   * zeros), small enough that purge frees space soon after compaction.
   */
  public static final long SEGMENT_SIZE_BYTES_DEFAULT = 64L * 1024 * 1024;

  public static final long SEGMENT_SIZE_BYTES_MIN = 4096;
  public static final int QUEUE_WRITES_MAX_DEFAULT = 4096;
  public static final int BATCH_WRITES_MAX_DEFAULT = 1024;

  /**
   * How stale the file may be under the planted bug: a SIGKILL loses at most about this much of the
   * latest acknowledged batches, never older state (a node that lost everything would not serve
   * again, and a test would see unavailability instead of lost writes). As the RocksDB engine's.
   */
  public static final long DEBUG_WRITE_OUT_INTERVAL_MILLIS = 1000;

  public SegmentedLogOptions {
    Objects.requireNonNull(directory, "directory");
    Objects.requireNonNull(writerThreadFactory, "writerThreadFactory");
    Objects.requireNonNull(millisClock, "millisClock");
    if (segmentSizeBytes < SEGMENT_SIZE_BYTES_MIN || segmentSizeBytes > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          "segmentSizeBytes must be in ["
              + SEGMENT_SIZE_BYTES_MIN
              + ", "
              + Integer.MAX_VALUE
              + "], got "
              + segmentSizeBytes);
    }
    if (queueWritesMax < 1 || batchWritesMax < 1 || batchWritesMax > queueWritesMax) {
      throw new IllegalArgumentException(
          "need 1 <= batchWritesMax <= queueWritesMax, got batchWritesMax "
              + batchWritesMax
              + " and queueWritesMax "
              + queueWritesMax);
    }
  }

  /** The defaults, in {@code directory}. */
  public static SegmentedLogOptions defaults(Path directory) {
    return new SegmentedLogOptions(
        directory,
        SEGMENT_SIZE_BYTES_DEFAULT,
        QUEUE_WRITES_MAX_DEFAULT,
        BATCH_WRITES_MAX_DEFAULT,
        runnable -> {
          Thread thread = new Thread(runnable, "ringkv-raftlog-writer");
          thread.setDaemon(true);
          return thread;
        },
        false,
        System::currentTimeMillis);
  }

  public SegmentedLogOptions withSegmentSizeBytes(long sizeBytes) {
    return new SegmentedLogOptions(
        directory,
        sizeBytes,
        queueWritesMax,
        batchWritesMax,
        writerThreadFactory,
        debugUnsyncedWrites,
        millisClock);
  }

  /** The same options with the planted durability bug on (tests and debug-unsynced-writes). */
  public SegmentedLogOptions withDebugUnsyncedWrites(LongSupplier clock) {
    return new SegmentedLogOptions(
        directory,
        segmentSizeBytes,
        queueWritesMax,
        batchWritesMax,
        writerThreadFactory,
        true,
        clock);
  }

  public SegmentedLogOptions withWriterThreadFactory(ThreadFactory factory) {
    return new SegmentedLogOptions(
        directory,
        segmentSizeBytes,
        queueWritesMax,
        batchWritesMax,
        factory,
        debugUnsyncedWrites,
        millisClock);
  }
}
