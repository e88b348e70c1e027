package io.ringkv.storage;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.ringkv.raft.Entry;
import io.ringkv.storage.raftlog.SegmentedLog;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongFunction;
import org.rocksdb.RocksDBException;

/**
 * Group commit of Raft log writes: everything pending becomes ONE write with ONE fsync (a RocksDB
 * write, or with the segmented engine one batch of the segmented log; a snapshot or configuration
 * among them adds a RocksDB write before it).
 *
 * <p>Writers hand in {@link LogWrite}s through {@link #submit} (asynchronous, bounded queue of
 * {@code commitQueueWritesMax}) or {@link #commit} (synchronous, for a driver loop that batched
 * itself). Nothing a writer submits is refused for its size or for a full queue: a write above
 * {@code batchEntriesMax} or {@code batchSizeBytesMax} is split into consecutive parts that each
 * fit (the hard state goes with the last part, so it never names entries not yet written), and a
 * writer that finds the queue full waits for room (counted). A writer that must not wait asks
 * {@link #queueSpaceWrites} first, as the driver does before it takes a Ready. A dedicated
 * committer thread takes what is queued, up to {@code commitBatchWritesMax} writes, plans each
 * against its group's log bounds (including earlier writes of the same batch), writes the batch and
 * fsyncs the WAL, publishes the new bounds and only then completes the futures: a completed future
 * means durable. The exception are writes submitted with {@code sync} false (a hard state whose
 * only change is the commit index): a batch of nothing else is written without an fsync, and they
 * become durable with the next one.
 *
 * <p>If a durable write fails, the committer stops and rejects everything after it: after a failed
 * fsync the state of the file is unknown, and going on could acknowledge writes that are lost.
 * Futures complete on the committer thread; callers with heavy continuations should use the async
 * variants of {@link CompletableFuture}.
 */
public final class GroupCommitter implements AutoCloseable {
  private static final Pending STOP = new Pending(null, null, true);

  /** How often a writer waiting for room in a full queue checks that the committer still runs. */
  private static final long QUEUE_WAIT_POLL_MILLIS = 10;

  private final Store store;
  private final LongFunction<RaftLogStore> logs;
  private final SegmentedLog segmented;
  private final ReentrantLock commitLock;
  private final BlockingQueue<Pending> queue;
  private final Thread thread;
  private final Counter fsyncs;
  private final Counter queueWaits;
  private final Counter unsyncedWrites;
  private final Timer fsyncLatency;
  private final DistributionSummary batchWrites;
  private volatile boolean closed;
  private volatile Throwable failure;

  /** {@code segmented} is the node's segmented log, or null with the RocksDB engine. */
  GroupCommitter(
      Store store,
      LongFunction<RaftLogStore> logs,
      SegmentedLog segmented,
      ReentrantLock commitLock) {
    StorageOptions options = store.options;
    this.store = store;
    this.logs = logs;
    this.segmented = segmented;
    this.commitLock = commitLock;
    this.queue = new ArrayBlockingQueue<>(options.commitQueueWritesMax());
    MeterRegistry registry = options.meterRegistry();
    this.fsyncs =
        Counter.builder("ringkv.storage.fsyncs")
            .description("Durable (fsynced) RocksDB writes of the group committer")
            .register(registry);
    this.queueWaits =
        Counter.builder("ringkv.storage.commit.queue.waits")
            .description("Log write parts whose writer waited for room in the commit queue")
            .register(registry);
    this.unsyncedWrites =
        Counter.builder("ringkv.storage.unsynced.writes")
            .description(
                "Log writes written without an fsync of their own (hard states whose only change"
                    + " is the commit index)")
            .register(registry);
    this.fsyncLatency =
        Timer.builder("ringkv.storage.fsync.latency")
            .description("Time of one group-committed RocksDB write with fsync")
            .register(registry);
    this.batchWrites =
        DistributionSummary.builder("ringkv.storage.commit.batch.writes")
            .description("Log writes coalesced into one fsync")
            .register(registry);
    Gauge.builder("ringkv.storage.commit.queue.writes", queue, BlockingQueue::size)
        .description("Log writes waiting for the committer")
        .register(registry);
    this.thread = options.committerThreadFactory().newThread(this::run);
    thread.start();
  }

  /**
   * Queues {@code write}, split into parts that fit the batch limits, waiting for room in the queue
   * if it is full. The future completes once every part is durable, or exceptionally if the
   * committer stopped or a part does not fit its group's log.
   *
   * @throws LimitExceededException if one entry alone is above {@code batchSizeBytesMax}; nothing
   *     is queued
   */
  public CompletableFuture<Void> submit(LogWrite write) {
    return submit(write, true);
  }

  /**
   * As {@link #submit(LogWrite)}, but with {@code sync} false the write needs no fsync of its own:
   * it is written in order with the others and becomes durable with the next fsync, and a crash
   * before that may lose it. For a hard state whose only change is the commit index. A batch of
   * only such writes is written without an fsync.
   */
  public CompletableFuture<Void> submit(LogWrite write, boolean sync) {
    List<LogWrite> parts = split(write);
    parts.forEach(this::checkLimits);
    List<CompletableFuture<Void>> futures = new ArrayList<>(parts.size());
    for (LogWrite part : parts) {
      CompletableFuture<Void> future = new CompletableFuture<>();
      futures.add(future);
      if (!enqueue(new Pending(part, future, sync))) {
        future.completeExceptionally(stopped());
        break; // later parts would not fit the log without this one
      }
    }
    return futures.size() == 1
        ? futures.getFirst()
        : CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new));
  }

  /** Log writes that fit in the queue now without waiting. */
  public int queueSpaceWrites() {
    return queue.remainingCapacity();
  }

  /** Puts {@code pending} in the queue, waiting for room; false if the committer stopped. */
  private boolean enqueue(Pending pending) {
    boolean waited = false;
    try {
      while (!closed && failure == null) {
        if (queue.offer(pending, QUEUE_WAIT_POLL_MILLIS, TimeUnit.MILLISECONDS)) {
          return true;
        }
        if (!waited) {
          queueWaits.increment();
          waited = true;
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return false;
  }

  /**
   * {@code write} as consecutive parts within {@code batchEntriesMax} and {@code
   * batchSizeBytesMax}: the snapshot and configuration go with the first part, the hard state with
   * the last.
   */
  List<LogWrite> split(LogWrite write) {
    StorageOptions options = store.options;
    List<Entry> entries = write.entries();
    if (entries.size() <= options.batchEntriesMax()
        && write.entriesSizeBytes() <= options.batchSizeBytesMax()) {
      return List.of(write);
    }
    List<List<Entry>> chunks = new ArrayList<>();
    int start = 0;
    long sizeBytes = 0;
    for (int i = 0; i < entries.size(); i++) {
      long entryBytes = entries.get(i).sizeBytes();
      boolean full =
          i - start == options.batchEntriesMax()
              || sizeBytes + entryBytes > options.batchSizeBytesMax();
      if (i > start && full) {
        chunks.add(entries.subList(start, i));
        start = i;
        sizeBytes = 0;
      }
      sizeBytes += entryBytes;
    }
    chunks.add(entries.subList(start, entries.size()));
    List<LogWrite> parts = new ArrayList<>(chunks.size());
    for (int i = 0; i < chunks.size(); i++) {
      boolean first = i == 0;
      boolean last = i == chunks.size() - 1;
      parts.add(
          new LogWrite(
              write.groupId(),
              first ? write.snapshot() : null,
              chunks.get(i),
              last ? write.hardState() : null,
              first ? write.confState() : null));
    }
    return parts;
  }

  /**
   * Writes {@code writes} (of one or many groups) durably with one fsync on the calling thread, all
   * or nothing: if any write does not fit its log, nothing is written and this throws.
   */
  public void commit(List<LogWrite> writes) {
    List<Pending> pending = new ArrayList<>(writes.size());
    for (LogWrite write : writes) {
      checkLimits(write);
      pending.add(new Pending(write, new CompletableFuture<>(), true));
    }
    if (closed || failure != null) {
      throw stopped();
    }
    commitBatch(pending, true);
    for (Pending each : pending) {
      each.future.join();
    }
  }

  /** Writes waiting for the committer thread. */
  public int queuedWrites() {
    return queue.size();
  }

  private void checkLimits(LogWrite write) {
    StorageOptions options = store.options;
    if (write.entries().size() > options.batchEntriesMax()) {
      throw store.limitExceeded(
          "batchEntriesMax", write.entries().size(), options.batchEntriesMax());
    }
    long sizeBytes = write.entriesSizeBytes();
    if (sizeBytes > options.batchSizeBytesMax()) {
      throw store.limitExceeded("batchSizeBytesMax", sizeBytes, options.batchSizeBytesMax());
    }
  }

  private CommitRejectedException stopped() {
    return failure != null
        ? new CommitRejectedException("group committer stopped after a failed write", failure)
        : new CommitRejectedException("group committer is closed");
  }

  private void run() {
    int batchWritesMax = store.options.commitBatchWritesMax();
    List<Pending> batch = new ArrayList<>(batchWritesMax);
    boolean stopping = false;
    while (!stopping) {
      try {
        batch.add(queue.take());
      } catch (InterruptedException e) {
        // Interrupted from outside: stop taking writes, and fail what is queued below.
        Thread.currentThread().interrupt();
        closed = true;
        break;
      }
      queue.drainTo(batch, batchWritesMax - 1);
      stopping = batch.remove(STOP);
      if (!batch.isEmpty()) {
        commitBatch(batch, false);
      }
      batch.clear();
    }
    // Writes that raced with close() and landed behind the stop marker: never left hanging.
    for (Pending late = queue.poll(); late != null; late = queue.poll()) {
      if (late != STOP) {
        late.future.completeExceptionally(stopped());
      }
    }
  }

  /**
   * Plans, writes with one fsync, publishes, then completes. With {@code allOrNothing} a write that
   * does not fit fails the whole batch before anything is written.
   */
  private void commitBatch(List<Pending> batch, boolean allOrNothing) {
    List<Planned> planned;
    commitLock.lock();
    try (LogCommit commit = new LogCommit()) {
      if (failure != null) {
        throw stopped();
      }
      planned = plan(batch, commit, allOrNothing);
      if (planned.isEmpty()) {
        return;
      }
      boolean sync = false;
      for (Planned each : planned) {
        sync |= each.pending.sync;
      }
      try {
        writeDurably(commit, planned.size(), sync);
      } catch (RuntimeException e) {
        failure = e;
        throw e;
      }
      for (Planned each : planned) {
        each.log.publish(each.pending.write, each.after);
      }
    } catch (RuntimeException e) {
      for (Pending pending : batch) {
        pending.future.completeExceptionally(e);
      }
      if (allOrNothing) {
        throw e;
      }
      return;
    } finally {
      commitLock.unlock();
    }
    for (Planned each : planned) {
      each.pending.future.complete(null);
    }
  }

  /** Plans every write against its group's bounds as staged by the writes before it. */
  private List<Planned> plan(List<Pending> batch, LogCommit commit, boolean allOrNothing) {
    List<Planned> planned = new ArrayList<>(batch.size());
    Map<Long, LogState> staged = new HashMap<>();
    for (Pending pending : batch) {
      RaftLogStore log = logs.apply(pending.write.groupId());
      LogState before = staged.getOrDefault(pending.write.groupId(), log.state());
      LogState after;
      try {
        after = log.plan(before, pending.write);
      } catch (RuntimeException e) {
        if (allOrNothing) {
          throw e;
        }
        pending.future.completeExceptionally(e);
        continue;
      }
      try {
        log.addTo(commit, pending.write, before, after);
      } catch (RocksDBException e) {
        throw store.failure("build commit batch", e);
      }
      staged.put(pending.write.groupId(), after);
      planned.add(new Planned(pending, log, after));
    }
    return planned;
  }

  private void writeDurably(LogCommit commit, int writes, boolean sync) {
    if (!sync) {
      // Only hard states whose commit index moved: written in order, durable with the next fsync.
      if (commit.rocks.count() > 0) {
        store.write(commit.rocks, false);
      }
      if (!commit.records.isEmpty()) {
        segmented.write(commit.records, false);
      }
      unsyncedWrites.increment(writes);
      return;
    }
    Timer.Sample sample = Timer.start(store.options.meterRegistry());
    if (commit.rocks.count() > 0) {
      // A buffered write, then a WAL fsync: the same durability as a sync write (nothing completes
      // before the fsync), but unsynced writes of the apply thread never queue behind the fsync.
      // With the segmented log this part is rare (snapshots, configurations) and goes first.
      store.write(commit.rocks, false);
      store.syncWal();
    }
    if (!commit.records.isEmpty()) {
      // On this thread, not the log's writer: no hand-off, one fsync for every group's records.
      segmented.write(commit.records, true);
      if (store.options.debugUnsyncedWrites()) {
        // The planted bug hands RocksDB's buffered WAL (the applied data) to the system at the
        // log's pace, so a crash loses the last second of both, as with the RocksDB engine, and
        // never leaves the log compacted past data that only lived in this process.
        store.syncWal();
      }
    }
    sample.stop(fsyncLatency);
    fsyncs.increment();
    batchWrites.record(writes);
  }

  /** Stops accepting writes, commits everything already queued, and waits for the thread. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      queue.put(STOP);
      thread.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new StorageException("interrupted while closing the group committer", e);
    }
  }

  private record Pending(LogWrite write, CompletableFuture<Void> future, boolean sync) {}

  private record Planned(Pending pending, RaftLogStore log, LogState after) {}
}
