package io.ringkv.server.raft;

import io.ringkv.raft.Status;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The published status of every local replica: written by the driver thread at the end of each
 * iteration, read by any thread (services route by it, gauges export it).
 *
 * <p>Observing a replica also notes leader changes, fails what waits on a leader that lost its
 * role, and checks the replica's invariants, so a broken stage is caught within one iteration.
 */
final class StatusBoard {
  private static final Logger log = LoggerFactory.getLogger(StatusBoard.class);

  private final AtomicReferenceArray<GroupStatus> statuses;
  private final ReplicaGuard guard;
  private final DriverMetrics metrics;
  private final AtomicInteger stopped = new AtomicInteger();

  /**
   * @param groupCount groups a replica may be hosted of: the partitions and the meta group
   */
  StatusBoard(int groupCount, ReplicaGuard guard, DriverMetrics metrics) {
    this.statuses = new AtomicReferenceArray<>(groupCount);
    this.guard = guard;
    this.metrics = metrics;
  }

  /**
   * The last published status of the local replica of {@code partition}, or null when this node has
   * no replica of it that runs (not hosted, or stopped). Any thread.
   */
  GroupStatus get(int partition) {
    return partition >= 0 && partition < statuses.length() ? statuses.get(partition) : null;
  }

  void registerGauges(Collection<Integer> partitions) {
    for (int partition : partitions) {
      registerGauges(partition);
    }
    metrics.registerStoppedReplicasGauge(stopped::get);
  }

  /** Gauges of one group (registering again, after a destroy and re-create, is harmless). */
  void registerGauges(int group) {
    metrics.registerPartitionGauges(group, statuses);
  }

  /** Whether a replica of {@code group} may be hosted here at all. */
  boolean covers(int group) {
    return group >= 0 && group < statuses.length();
  }

  /** A replica that went away (destroyed) has no status; a stopped one no longer counts. */
  void withdraw(GroupReplica replica) {
    if (replica.withdrawn) {
      stopped.decrementAndGet();
    }
    statuses.set(replica.partition, null);
  }

  /** Observes and publishes every replica (driver thread). */
  void observe(Collection<GroupReplica> groups) {
    for (GroupReplica replica : groups) {
      if (replica.failure != null) {
        unpublishStopped(replica);
        continue;
      }
      Status status = replica.raw.status();
      if (status.leaderId() != replica.knownLeader) {
        if (status.leaderId() != 0) {
          metrics.leaderChanges.increment();
          log.info(
              "partition {}: leader is now node {} (term {})",
              replica.partition,
              status.leaderId(),
              status.term());
        }
        replica.knownLeader = status.leaderId();
      }
      if (replica.knownRole == io.ringkv.raft.Role.LEADER
          && status.role() != io.ringkv.raft.Role.LEADER) {
        guard.failWaiting(replica, "leadership lost while the request was pending");
      }
      replica.knownRole = status.role();
      guard.run(replica, replica::checkInvariants);
      publish(replica);
    }
  }

  /**
   * A stopped replica is withdrawn: its last status could say it leads, and a service that believed
   * that would refuse requests instead of forwarding them to the real leader. With no status, the
   * node treats the partition as served elsewhere.
   */
  private void unpublishStopped(GroupReplica replica) {
    if (!replica.withdrawn) {
      replica.withdrawn = true;
      statuses.set(replica.partition, null);
      stopped.incrementAndGet();
    }
  }

  void publish(GroupReplica replica) {
    Status status = replica.raw.status();
    statuses.set(
        replica.partition,
        new GroupStatus(
            replica.partition,
            status.role(),
            status.term(),
            status.leaderId(),
            status.commitIndex(),
            replica.appliedIndex,
            List.copyOf(status.confState().voters())));
  }
}
