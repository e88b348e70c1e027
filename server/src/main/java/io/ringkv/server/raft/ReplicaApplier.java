package io.ringkv.server.raft;

import io.ringkv.raft.ConfChange;
import io.ringkv.raft.ConfState;
import io.ringkv.raft.Entry;
import io.ringkv.raft.EntryType;
import io.ringkv.raft.Invariants;
import io.ringkv.raft.ReadState;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The apply stage: committed entries and read releases of every group, run on the one apply thread
 * ({@link ApplyLoop}), and snapshot installs, run on an installer thread beside it so a long
 * install holds up neither the driver nor the other groups' applies.
 *
 * <p>Design notes. The driver thread calls {@link #handOut}, {@link #serveReads} and {@link
 * #installAsync}; they check order on the driver thread (each committed index handed once, in
 * order; configuration changes take effect in the Raft core here, in log order) and queue the work.
 * The apply thread applies a group's entries in log order, answers this node's proposals and
 * releases reads whose read index it reached. A failure while applying stops that replica only: the
 * driver is told through {@code toDriver} and fails what waits on it.
 */
final class ReplicaApplier implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ReplicaApplier.class);

  /** Counted per entry beyond its payload: the entry's object and its place in the queue. */
  static final long ENTRY_OVERHEAD_BYTES = 64;

  private final long nodeId;
  private final ApplyLoop loop;
  private final DriverMetrics metrics;
  private final LongSupplier nanoTime;
  private final Consumer<Runnable> toDriver;
  private ReplicaGuard guard;
  private volatile AppliedListener appliedListener = AppliedListener.NONE;
  private volatile boolean skipSnapshotData;

  /** Bytes of committed entries handed to the apply thread and not applied yet. */
  private final AtomicLong queuedBytes = new AtomicLong();

  private final long queueBytesMax;
  private final ApplyBatchSplitter splitter;

  /** Installs received snapshots one at a time, off the driver and apply threads. */
  private final ExecutorService installer =
      Executors.newSingleThreadExecutor(runnable -> {
        Thread thread = new Thread(runnable, "ringkv-snapshot-install");
        thread.setDaemon(true);
        return thread;
      });

  private static final long INSTALL_CLOSE_WAIT_SECONDS = 30;

  /**
   * @param toDriver runs a task on the driver thread (and wakes it)
   */
  ReplicaApplier(
      long nodeId,
      long queueBytesMax,
      ApplyBatchSplitter splitter,
      DriverMetrics metrics,
      LongSupplier nanoTime,
      Consumer<Runnable> toDriver) {
    this.nodeId = nodeId;
    this.queueBytesMax = queueBytesMax;
    this.splitter = splitter;
    this.loop = new ApplyLoop("ringkv-apply");
    this.metrics = metrics;
    this.nanoTime = nanoTime;
    this.toDriver = toDriver;
  }

  void start(ReplicaGuard replicaGuard) {
    this.guard = replicaGuard;
    loop.start();
  }

  /** Tells {@code listener} of every apply and install from now on. */
  void setAppliedListener(AppliedListener listener) {
    this.appliedListener = listener;
  }

  /** Bytes of committed entries handed over and not applied yet (any thread). */
  long queuedBytes() {
    return queuedBytes.get();
  }

  /** What one committed entry counts for in the apply queue's byte bound. */
  static long queueBytes(Entry entry) {
    return entry.data().length + ENTRY_OVERHEAD_BYTES;
  }

  static long queueBytes(List<Entry> entries) {
    long bytes = 0;
    for (Entry entry : entries) {
      bytes += queueBytes(entry);
    }
    return bytes;
  }

  /** Queues work on the apply thread after everything handed over before. */
  void execute(Runnable task) {
    loop.execute(task);
  }

  /**
   * Hands committed entries to the apply thread (driver thread), cut into batches the store
   * accepts. Entries the store applied before a restart are skipped; anything else delivered twice
   * is a broken invariant.
   */
  void handOut(GroupReplica replica, List<Entry> committed) {
    int skip = 0;
    while (skip < committed.size() && committed.get(skip).index() <= replica.handedIndex) {
      Invariants.check(
          committed.get(skip).index() <= replica.appliedAtOpen,
          "partition %d: entry %d delivered again after it was applied",
          replica.partition,
          committed.get(skip).index());
      skip++;
    }
    if (skip == committed.size()) {
      return;
    }
    for (List<Entry> batch : splitter.split(committed.subList(skip, committed.size()))) {
      queue(replica, List.copyOf(batch));
    }
    long now = nanoTime.getAsLong();
    while (!replica.proposedAt.isEmpty() && replica.proposedAt.peek()[0] <= replica.handedIndex) {
      DriverMetrics.recordNanos(metrics.proposalToCommit, now - replica.proposedAt.poll()[1]);
    }
  }

  /** Queues one apply batch; its configuration changes take effect in the core now. */
  private void queue(GroupReplica replica, List<Entry> entries) {
    ConfState confState = null;
    for (Entry entry : entries) {
      Invariants.check(
          entry.index() == replica.handedIndex + 1,
          "partition %d: committed entry %d after %d",
          replica.partition,
          entry.index(),
          replica.handedIndex);
      replica.handedIndex = entry.index();
      if (entry.type() == EntryType.CONF_CHANGE) {
        ConfChange change = ConfChange.decode(entry.data());
        if (ReplicaChanges.addsNewMember(replica.raw.status().confState(), change)) {
          ReplicaChanges.ensureSnapshotPoint(replica);
        }
        confState = replica.raw.applyConfChange(change);
      }
    }
    ConfState newConfState = confState;
    long bytes = queueBytes(entries);
    queuedBytes.addAndGet(bytes);
    loop.execute(() -> {
      try {
        applyCommitted(replica, entries, newConfState);
      } finally {
        release(bytes);
      }
    });
  }

  /** Applied (apply thread): crossing back under the bound wakes the driver to take Readies. */
  private void release(long bytes) {
    long after = queuedBytes.addAndGet(-bytes);
    if (after < queueBytesMax && after + bytes >= queueBytesMax) {
      toDriver.accept(() -> {});
    }
  }

  /** Applies committed entries and answers their proposals (apply thread). */
  private void applyCommitted(GroupReplica replica, List<Entry> entries, ConfState confState) {
    if (replica.failure != null) {
      return;
    }
    try {
      long started = nanoTime.getAsLong();
      Invariants.check(
          entries.getFirst().index() == replica.appliedIndex + 1,
          "partition %d: applying entry %d after applied %d",
          replica.partition,
          entries.getFirst().index(),
          replica.appliedIndex);
      List<PartitionStateMachine.Applied> results = replica.stateMachine.apply(entries, confState);
      replica.appliedIndex = entries.getLast().index();
      long term = entries.getLast().term();
      for (PartitionStateMachine.Applied applied : results) {
        if (applied.proposerNodeId() != nodeId) {
          continue;
        }
        GroupReplica.Pending pending = replica.pending.remove(applied.requestId());
        if (pending != null) {
          DriverMetrics.recordNanos(
              metrics.proposalToApply, nanoTime.getAsLong() - pending.proposedAtNanos());
          pending.future().complete(new ProposalOutcome(applied.result(), term, applied.index()));
        }
      }
      DriverMetrics.recordNanos(metrics.applyTimer, nanoTime.getAsLong() - started);
      releaseParkedReads(replica);
      appliedListener.applied(replica.partition, replica.appliedIndex);
    } catch (RuntimeException e) {
      stopFromApply(replica, e);
    }
  }

  /** A failure on the apply thread stops the replica; the driver fails what waits on it. */
  private void stopFromApply(GroupReplica replica, RuntimeException e) {
    if (replica.failure != null) {
      return;
    }
    replica.failure = e;
    log.error("partition {}: replica stopped after a failure while applying", replica.partition, e);
    toDriver.accept(() -> guard.failWaiting(replica, "replica stopped: " + e.getMessage()));
  }

  /** Hands reads whose ReadIndex came back to the apply thread, which serves them once applied. */
  void serveReads(GroupReplica replica, List<ReadState> readStates) {
    if (readStates.isEmpty()) {
      return;
    }
    long term = replica.raw.status().term();
    for (ReadState state : readStates) {
      long context = ByteBuffer.wrap(state.context()).getLong();
      List<java.util.concurrent.CompletableFuture<Long>> reads =
          replica.readsAwaitingIndex.remove(context);
      if (reads == null) {
        continue;
      }
      long index = state.index();
      loop.execute(() -> {
        if (index <= replica.appliedIndex) {
          reads.forEach(read -> read.complete(term));
        } else {
          replica.parkedReads.add(new GroupReplica.ParkedReads(index, term, reads));
        }
      });
    }
  }

  /** Answers parked reads whose index is applied now (apply thread). */
  private static void releaseParkedReads(GroupReplica replica) {
    if (replica.parkedReads.isEmpty()) {
      return;
    }
    Iterator<GroupReplica.ParkedReads> parked = replica.parkedReads.iterator();
    while (parked.hasNext()) {
      GroupReplica.ParkedReads reads = parked.next();
      if (reads.index() <= replica.appliedIndex) {
        reads.futures().forEach(read -> read.complete(reads.term()));
        parked.remove();
      }
    }
  }

  /**
   * Installs a received snapshot from {@code directory} without holding up the driver or the apply
   * thread: after everything handed over before (FIFO on the apply thread), the install runs on the
   * installer thread; then, back on the apply thread, the replica's applied index moves to the
   * snapshot and parked reads are released. The future completes after that. The replica takes no
   * Ready meanwhile (the caller's business), so nothing else of it is queued.
   */
  CompletableFuture<Void> installAsync(GroupReplica replica, Path directory, long snapshotIndex) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    loop.execute(() ->
        installer.execute(() -> {
          try {
            long installed = installNow(replica, directory, snapshotIndex);
            loop.execute(() -> finishInstall(replica, installed, done));
          } catch (RuntimeException | Error e) {
            done.completeExceptionally(e);
          }
        }));
    return done;
  }

  /** See {@link MultiRaftDriver#enableDebugSkipSnapshotData}. */
  void skipSnapshotData() {
    this.skipSnapshotData = true;
  }

  /** Installer thread: the store consumes the directory (after a crash it rolls forward). */
  private long installNow(GroupReplica replica, Path directory, long snapshotIndex) {
    long installed =
        skipSnapshotData
            ? replica.store.debugInstallSnapshotMetadataOnly(directory).index()
            : replica.store.installSnapshot(directory).index();
    Invariants.check(
        installed == snapshotIndex,
        "partition %d: installed state %d, snapshot says %d",
        replica.partition,
        installed,
        snapshotIndex);
    return installed;
  }

  /** Apply thread: the replica's state is the snapshot's now. */
  private void finishInstall(GroupReplica replica, long installed, CompletableFuture<Void> done) {
    replica.appliedIndex = installed;
    releaseParkedReads(replica);
    appliedListener.applied(replica.partition, installed);
    metrics.snapshotsInstalled.increment();
    log.info("partition {}: snapshot at {} installed", replica.partition, installed);
    done.complete(null);
  }

  /** Runs what is queued, then stops the apply and installer threads. */
  @Override
  public void close() {
    loop.close();
    installer.shutdown();
    try {
      installer.awaitTermination(INSTALL_CLOSE_WAIT_SECONDS, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
