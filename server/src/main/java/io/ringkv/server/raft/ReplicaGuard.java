package io.ringkv.server.raft;

import java.util.List;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Contains a failure to the one replica it happened in. Driver thread only.
 *
 * <p>Work on a replica runs through {@link #run}: if it throws (a broken invariant, a storage
 * failure), that replica is stopped and logged loudly, everything waiting on it fails at once, and
 * the other partitions keep running. A stopped replica is no longer driven; the driver publishes it
 * as stopped so no one routes to it as a leader.
 */
final class ReplicaGuard {
  private static final Logger log = LoggerFactory.getLogger(ReplicaGuard.class);

  private final Consumer<Runnable> onApplyThread;

  /**
   * @param onApplyThread queues work on the apply thread (which owns parked reads)
   */
  ReplicaGuard(Consumer<Runnable> onApplyThread) {
    this.onApplyThread = onApplyThread;
  }

  /** Runs {@code work} unless the replica stopped; a failure stops it. */
  void run(GroupReplica replica, Runnable work) {
    if (replica.failure != null) {
      return;
    }
    try {
      work.run();
    } catch (RuntimeException e) {
      replica.failure = e;
      log.error("partition {}: replica stopped after a failure", replica.partition, e);
      failWaiting(replica, "replica stopped: " + e.getMessage());
    }
  }

  /** Fails every proposal and read waiting on {@code replica}: their outcome is unknown. */
  void failWaiting(GroupReplica replica, String reason) {
    DriverException failure =
        new DriverException(
            DriverException.Kind.UNAVAILABLE,
            replica.partition,
            replica.raw.status().leaderId(),
            reason + " (outcome unknown)");
    for (GroupReplica.Pending pending : List.copyOf(replica.pending.values())) {
      pending.future().completeExceptionally(failure);
    }
    replica.pending.clear();
    replica.queuedProposals.forEach(proposal -> proposal.future().completeExceptionally(failure));
    replica.queuedProposals.clear();
    replica.proposedAt.clear();
    replica.queuedReads.forEach(read -> read.completeExceptionally(failure));
    replica.queuedReads.clear();
    replica
        .readsAwaitingIndex
        .values()
        .forEach(reads -> reads.forEach(read -> read.completeExceptionally(failure)));
    replica.readsAwaitingIndex.clear();
    onApplyThread.accept(() -> {
      replica.parkedReads.forEach(
          parked -> parked.futures().forEach(read -> read.completeExceptionally(failure)));
      replica.parkedReads.clear();
    });
  }

  static DriverException stopped(GroupReplica replica) {
    return new DriverException(
        DriverException.Kind.UNAVAILABLE, replica.partition, 0, "replica stopped on failure");
  }
}
