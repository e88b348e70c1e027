package io.ringkv.server.raft;

import io.ringkv.raft.ConfState;
import io.ringkv.raft.Entry;
import io.ringkv.raft.Message;
import io.ringkv.raft.MessageType;
import io.ringkv.raft.Ready;
import io.ringkv.raft.SnapshotMetadata;
import io.ringkv.storage.GroupCommitter;
import io.ringkv.storage.LogWrite;
import io.ringkv.storage.RaftLogStore;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The persistence stage: takes Readies, submits their log writes to the group committer, and tracks
 * their durability. Runs on the driver thread; the committer's thread only signals back.
 *
 * <p>Design notes. {@link #takeReadies} takes the Ready of every group that has one and no log
 * write in flight. Messages that may go before persistence are sent at once; committed entries this
 * node already holds durably go to the apply stage at once; the groups' log writes go to the group
 * committer together (one fsync for all of them) and the driver goes on while they are written.
 * When every write of that round is durable, the committer posts {@link #afterWrites} to the driver
 * thread, which sends the messages that waited for persistence, hands out the rest of the committed
 * entries and advances those groups. Stepping a group between its Ready and its advance is allowed
 * by the core; only its next Ready waits.
 *
 * <p>Back-pressure: no Ready is taken while the apply queue is at its byte bound or the group
 * committer's queue has no room, so neither stage is ever asked to refuse work. A Ready whose log
 * write is larger than one RocksDB write may hold is split by the committer into parts.
 *
 * <p>Crash windows: committed entries this node already holds durably are applied before the
 * Ready's fsync, and a received snapshot is installed before the log records it, so after a crash
 * the store may be ahead of the persisted commit index. Such entries come again after restart and
 * are skipped by the apply stage. A Ready whose only change is the commit index in the hard state
 * ({@code Ready#mustSync} false) is written in order with the group's other log writes but without
 * an fsync of its own, and nothing waits for it: a crash may lose that commit index, which the
 * restarted member then learns again from the leader (entries it covers are durable already).
 */
final class PersistencePipeline {
  private static final Logger log = LoggerFactory.getLogger(PersistencePipeline.class);

  private final GroupCommitter committer;
  private final ReplicaGuard guard;
  private final ReplicaApplier applier;
  private final ReceivedSnapshots receivedSnapshots;
  private final DriverMetrics metrics;
  private final LongSupplier nanoTime;
  private final Consumer<Runnable> toDriver;
  private final long logCompactionEntries;
  private final long applyQueueBytesMax;

  /**
   * Committed bytes of Readies taken and not finished yet: they will enter the apply queue, so they
   * count against its bound from the moment the Ready is taken.
   */
  private long reservedApplyBytes;

  private PeerOutbox outbox;

  PersistencePipeline(
      GroupCommitter committer,
      ReplicaGuard guard,
      ReplicaApplier applier,
      ReceivedSnapshots receivedSnapshots,
      DriverMetrics metrics,
      LongSupplier nanoTime,
      Consumer<Runnable> toDriver,
      long logCompactionEntries,
      long applyQueueBytesMax) {
    this.applyQueueBytesMax = applyQueueBytesMax;
    this.committer = committer;
    this.guard = guard;
    this.applier = applier;
    this.receivedSnapshots = receivedSnapshots;
    this.metrics = metrics;
    this.nanoTime = nanoTime;
    this.toDriver = toDriver;
    this.logCompactionEntries = logCompactionEntries;
  }

  void start(PeerOutbox peerOutbox) {
    this.outbox = peerOutbox;
  }

  /** One group's Ready between its hand-over and its advance. */
  private static final class GroupReady {
    final GroupReplica replica;
    final Ready ready;

    /** Committed entries handed to the apply stage before this Ready's log write finished. */
    int handedEarly;

    /** This Ready's committed bytes, counted in {@link #reservedApplyBytes} until it finishes. */
    long reservedBytes;

    CompletableFuture<Void> written;

    GroupReady(GroupReplica replica, Ready ready) {
      this.replica = replica;
      this.ready = ready;
    }
  }

  /**
   * Takes the Ready of every group that has one and no log write in flight, sends what may go
   * before persistence, and submits the log writes (see the class notes).
   */
  void takeReadies(Collection<GroupReplica> groups) {
    List<GroupReady> readies = new ArrayList<>();
    for (GroupReplica replica : groups) {
      if (replica.failure != null) {
        continue;
      }
      if (replica.writing != null) {
        sendEarly(replica); // its Ready waits for the fsync (or an install)
      } else if (replica.raw.hasReady()) {
        if (applyQueueFull() || committer.queueSpaceWrites() == 0) {
          // Back-pressure: this group's Ready waits (its core keeps stepping) until apply or the
          // disk catches up; taking it would only queue more work on a full stage. What needs no
          // persistence still goes, so the leaders here keep heartbeating.
          metrics.backPressureIterations.increment();
          sendEarly(replica);
          continue;
        }
        guard.run(replica, () -> readies.add(take(replica)));
      }
    }
    for (GroupReady item : readies) {
      guard.run(item.replica, () -> outbox.add(item.replica, item.ready.messages()));
    }
    outbox.flush();
    if (readies.isEmpty()) {
      return;
    }
    List<GroupReady> toWrite = new ArrayList<>();
    List<GroupReady> done = new ArrayList<>();
    for (GroupReady item : readies) {
      guard.run(item.replica, () -> submit(item, toWrite, done));
      if (item.replica.failure != null && !toWrite.contains(item)) {
        done.remove(item);
        release(item);
      }
    }
    if (!toWrite.isEmpty()) {
      List<PeerOutbox.Frame> afterFsync = prepareAfterFsync(toWrite);
      long started = nanoTime.getAsLong();
      CompletableFuture.allOf(
              toWrite.stream().map(w -> w.written).toArray(CompletableFuture[]::new))
          .whenComplete((ignored, error) -> {
            long took = nanoTime.getAsLong() - started;
            // On the committer's thread, right after the fsync: the answers that waited for it
            // (a follower's append acknowledgement above all) leave without a trip through the
            // driver thread first. If any write failed, the driver decides per group instead.
            List<PeerOutbox.Frame> notSent = error == null ? outbox.send(afterFsync) : null;
            toDriver.accept(() -> afterWrites(toWrite, took, notSent));
          });
    }
    if (!done.isEmpty()) {
      finishReadies(done);
    }
  }

  /** Sends what needs no persistence and serves confirmed reads, without taking a Ready. */
  private void sendEarly(GroupReplica replica) {
    guard.run(
        replica,
        () -> {
          outbox.add(replica, replica.raw.takeMessagesBeforePersistence());
          applier.serveReads(replica, replica.raw.takeReadStates());
        });
  }

  private boolean applyQueueFull() {
    return reservedApplyBytes + applier.queuedBytes() >= applyQueueBytesMax;
  }

  private GroupReady take(GroupReplica replica) {
    GroupReady item = new GroupReady(replica, replica.raw.ready());
    item.reservedBytes = ReplicaApplier.queueBytes(item.ready.committedEntries());
    reservedApplyBytes += item.reservedBytes;
    return item;
  }

  /** The Ready is finished or abandoned (its replica stopped): its reservation ends. */
  private void release(GroupReady item) {
    reservedApplyBytes -= item.reservedBytes;
    item.reservedBytes = 0;
  }

  private void submit(GroupReady item, List<GroupReady> toWrite, List<GroupReady> done) {
    GroupReplica replica = item.replica;
    if (!item.ready.snapshot().isEmpty()) {
      installThenWrite(item);
      applier.serveReads(replica, item.ready.readStates()); // released once installed
      return;
    }
    handOutDurable(item);
    applier.serveReads(replica, item.ready.readStates());
    LogWrite write = persistencePlan(replica, item.ready);
    if (write == null) {
      done.add(item);
    } else if (!item.ready.mustSync()) {
      // Only the commit index moved: written in order with this group's other writes, but nothing
      // waits for it (see Ready#mustSync), so the group's next Ready never waits for an fsync that
      // only a commit index asked for.
      CompletableFuture<Void> written = committer.submit(write, false);
      written.whenComplete((ignored, error) -> {
        if (error != null) {
          toDriver.accept(() -> guard.run(replica, written::join)); // stops the replica
        }
      });
      done.add(item);
    } else {
      item.written = committer.submit(write);
      replica.writing = item.ready;
      toWrite.add(item);
    }
  }

  /**
   * A received snapshot: installed off the driver thread, then its log write is submitted, and the
   * Ready finishes like any other. The group takes no Ready until then ({@code writing} is set);
   * every other group keeps ticking, heartbeating and applying.
   */
  private void installThenWrite(GroupReady item) {
    GroupReplica replica = item.replica;
    Path directory = Path.of(new String(item.ready.snapshot().data(), StandardCharsets.UTF_8));
    long snapshotIndex = item.ready.snapshot().metadata().index();
    receivedSnapshots.takeForInstall(replica.partition, directory);
    replica.writing = item.ready;
    replica.handedIndex = snapshotIndex; // everything through the snapshot is the snapshot's
    long started = nanoTime.getAsLong();
    applier
        .installAsync(replica, directory, snapshotIndex)
        .whenComplete((ignored, installError) ->
            toDriver.accept(() -> afterInstall(item, installError, started)));
  }

  /** Driver thread: the snapshot is installed (or failed); now its log write. */
  private void afterInstall(GroupReady item, Throwable installError, long started) {
    GroupReplica replica = item.replica;
    guard.run(
        replica,
        () -> {
          if (installError != null) {
            throw new IllegalStateException("snapshot install failed", installError);
          }
          item.written = committer.submit(persistencePlan(replica, item.ready));
          item.written.whenComplete((ignored, error) ->
              toDriver.accept(() -> afterWrites(List.of(item), nanoTime.getAsLong() - started)));
        });
    if (replica.failure != null) {
      replica.writing = null;
      release(item);
    }
  }

  /**
   * The frames of the messages {@code items} may send once their log writes are durable, built now
   * on the driver thread so that the committer's thread can send them right after the fsync.
   * Snapshots are not among them: they stay for {@link #finishReadies}.
   */
  private List<PeerOutbox.Frame> prepareAfterFsync(List<GroupReady> items) {
    for (GroupReady item : items) {
      guard.run(
          item.replica,
          () -> outbox.add(item.replica, notSnapshots(item.ready.persistedMessages())));
    }
    return outbox.prepare();
  }

  private static List<Message> notSnapshots(List<Message> messages) {
    for (Message message : messages) {
      if (message.type() == MessageType.SNAPSHOT) {
        return messages.stream().filter(m -> m.type() != MessageType.SNAPSHOT).toList();
      }
    }
    return messages;
  }

  private static List<Message> snapshotsOnly(List<Message> messages) {
    for (Message message : messages) {
      if (message.type() == MessageType.SNAPSHOT) {
        return messages.stream().filter(m -> m.type() == MessageType.SNAPSHOT).toList();
      }
    }
    return List.of();
  }

  /** Runs on the driver thread once an installed snapshot's log write is done. */
  private void afterWrites(List<GroupReady> items, long tookNanos) {
    afterWrites(items, tookNanos, null);
  }

  /**
   * Runs on the driver thread once every log write of one round is done. {@code notSent}: null if
   * the messages that waited for the writes are still to be sent, else the frames of them that the
   * transport did not take (they were sent on the committer's thread).
   */
  private void afterWrites(List<GroupReady> items, long tookNanos, List<PeerOutbox.Frame> notSent) {
    DriverMetrics.recordNanos(metrics.fsyncTimer, tookNanos);
    metrics.commitWrites.record(items.size());
    List<GroupReady> written = new ArrayList<>(items.size());
    for (GroupReady item : items) {
      item.replica.writing = null;
      guard.run(
          item.replica,
          () -> {
            item.written.join(); // throws if this write failed: the replica stops
            written.add(item);
          });
      if (!written.contains(item)) {
        release(item);
      }
    }
    if (notSent != null) {
      outbox.reportNotSent(notSent);
    }
    finishReadies(written, notSent != null);
  }

  private void finishReadies(List<GroupReady> items) {
    finishReadies(items, false);
  }

  /**
   * The Readies' log writes are durable: send what waited for that (unless {@code sent}: then only
   * their snapshots are left to ship), apply, advance.
   */
  private void finishReadies(List<GroupReady> items, boolean sent) {
    for (GroupReady item : items) {
      guard.run(
          item.replica,
          () ->
              outbox.add(
                  item.replica,
                  sent
                      ? snapshotsOnly(item.ready.persistedMessages())
                      : item.ready.persistedMessages()));
    }
    outbox.flush();
    for (GroupReady item : items) {
      guard.run(
          item.replica,
          () -> {
            noteDurable(item.replica, item.ready);
            List<Entry> committed = item.ready.committedEntries();
            applier.handOut(item.replica, committed.subList(item.handedEarly, committed.size()));
            item.replica.raw.advance(item.ready);
            maybeCompact(item.replica);
          });
      release(item);
    }
  }

  /**
   * Committed entries this node already holds durably (from earlier writes) need not wait for this
   * Ready's log write: they go to the apply stage at once. Only the durable prefix that this
   * Ready's write leaves in place counts: if the write starts at or below the durable end, it
   * truncates a conflicting suffix there, and the committed entries from that point on are new ones
   * that are durable only once the write is.
   */
  private void handOutDurable(GroupReady item) {
    long matchingDurableIndex = matchingDurableIndex(item.replica.durableIndex, item.ready);
    List<Entry> committed = item.ready.committedEntries();
    int durable = 0;
    while (durable < committed.size() && committed.get(durable).index() <= matchingDurableIndex) {
      durable++;
    }
    applier.handOut(item.replica, committed.subList(0, durable));
    item.handedEarly = durable;
  }

  /** The end of the durable log that survives {@code ready}'s write (its truncation point - 1). */
  static long matchingDurableIndex(long durableIndex, Ready ready) {
    if (ready.entries().isEmpty()) {
      return durableIndex;
    }
    return Math.min(durableIndex, ready.entries().getFirst().index() - 1);
  }

  /** Records how far this group's log is durable after the round's group commit. */
  private static void noteDurable(GroupReplica replica, Ready ready) {
    if (!ready.snapshot().isEmpty()) {
      replica.durableIndex = ready.snapshot().metadata().index();
    }
    if (!ready.entries().isEmpty()) {
      // Appending may also truncate a conflicting suffix: the last entry written is the end.
      replica.durableIndex = ready.entries().getLast().index();
    }
  }

  /** What this group must write durably (a received snapshot is installed before this). */
  private static LogWrite persistencePlan(GroupReplica replica, Ready ready) {
    SnapshotMetadata snapshot = null;
    ConfState confState = null;
    if (!ready.snapshot().isEmpty()) {
      snapshot = ready.snapshot().metadata();
      confState = snapshot.confState();
    }
    if (!ready.mustPersist()) {
      return null;
    }
    return new LogWrite(
        replica.partition, snapshot, ready.entries(), ready.hardState().orElse(null), confState);
  }

  /** Compacts the log behind the applied index, keeping half the threshold for slow followers. */
  private void maybeCompact(GroupReplica replica) {
    RaftLogStore raftLog = replica.log;
    long firstIndex = raftLog.firstIndex();
    if (replica.appliedIndex - firstIndex + 1 <= logCompactionEntries) {
      return;
    }
    long compactTo = replica.appliedIndex - logCompactionEntries / 2;
    if (compactTo < firstIndex || compactTo > raftLog.lastIndex()) {
      return;
    }
    SnapshotMetadata metadata =
        new SnapshotMetadata(compactTo, raftLog.term(compactTo), replica.raw.status().confState());
    raftLog.saveSnapshot(metadata);
    raftLog.compact(compactTo);
    log.debug("partition {}: log compacted through {}", replica.partition, compactTo);
  }
}
