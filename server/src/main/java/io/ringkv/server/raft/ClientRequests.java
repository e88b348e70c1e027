package io.ringkv.server.raft;

import io.ringkv.proto.internal.Command;
import io.ringkv.raft.ProposalDroppedException;
import io.ringkv.raft.Role;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.LongSupplier;

/**
 * Proposals and linearizable reads on their way into the Raft cores. Driver thread only.
 *
 * <p>Requests taken from the inbox in one iteration are queued per group; once per iteration each
 * leader proposes its queue as ONE batch and issues ONE ReadIndex for all its queued reads, so the
 * cost of a round trip and an fsync is shared by everything that arrived meanwhile. A request that
 * cannot be served here (not the leader, the in-flight bound reached, the replica stopped) fails at
 * once with a {@link DriverException} the caller can route or retry on.
 */
final class ClientRequests {
  /** Largest logical count within one HLC millisecond (the wire field is unsigned 32-bit). */
  static final int HLC_LOGICAL_MAX = Integer.MAX_VALUE;

  private final long nodeId;
  private final int inflightProposalsPerPartitionMax;
  private final Clock clock;
  private final LongSupplier nanoTime;
  private final ReplicaGuard guard;
  private final DriverMetrics metrics;
  private long nextRequestId;
  private long nextReadContext;

  ClientRequests(
      long nodeId,
      int inflightProposalsPerPartitionMax,
      Clock clock,
      LongSupplier nanoTime,
      ReplicaGuard guard,
      DriverMetrics metrics,
      long firstRequestId) {
    this.nodeId = nodeId;
    this.inflightProposalsPerPartitionMax = inflightProposalsPerPartitionMax;
    this.clock = clock;
    this.nanoTime = nanoTime;
    this.guard = guard;
    this.metrics = metrics;
    this.nextRequestId = firstRequestId;
  }

  /** Queues {@code command} on a leader (its proposer, request id and time are filled in here). */
  void propose(GroupReplica replica, Command command, CompletableFuture<ProposalOutcome> future) {
    if (replica.raw.status().role() != Role.LEADER) {
      future.completeExceptionally(notLeader(replica));
      return;
    }
    if (replica.pending.size() + replica.queuedProposals.size()
        >= inflightProposalsPerPartitionMax) {
      future.completeExceptionally(
          new DriverException(
              DriverException.Kind.OVERLOADED,
              replica.partition,
              nodeId,
              "inflight-proposals-per-partition-max ("
                  + inflightProposalsPerPartitionMax
                  + ") reached"));
      return;
    }
    long requestId = nextRequestId++;
    stampHlc(replica);
    byte[] data =
        command.toBuilder()
            .setProposerNodeId(nodeId)
            .setRequestId(requestId)
            .setProposedAtMillis(replica.hlcPhysicalMillis)
            .setProposedAtLogical(replica.hlcLogical)
            .build()
            .toByteArray();
    replica.queuedProposals.add(new GroupReplica.Proposal(requestId, data, future));
  }

  /**
   * Moves the partition's hybrid logical clock past its last stamp: the wall clock when it moved
   * on, else the same millisecond with the next logical count, so this leader's commands of one
   * partition carry strictly increasing times even within one millisecond or when the wall clock
   * steps back.
   */
  private void stampHlc(GroupReplica replica) {
    long wall = clock.millis();
    if (wall > replica.hlcPhysicalMillis) {
      replica.hlcPhysicalMillis = wall;
      replica.hlcLogical = 0;
    } else if (replica.hlcLogical == HLC_LOGICAL_MAX) {
      replica.hlcPhysicalMillis++; // a counter this high in one millisecond: borrow the next one
      replica.hlcLogical = 0;
    } else {
      replica.hlcLogical++;
    }
  }

  /** Queues a linearizable read on a leader. */
  void read(GroupReplica replica, CompletableFuture<Long> future) {
    if (replica.raw.status().role() != Role.LEADER) {
      future.completeExceptionally(notLeader(replica));
    } else {
      replica.queuedReads.add(future);
    }
  }

  /** Queues a ReadIndex on any replica; the Raft core forwards a follower's to its leader. */
  void readOnAnyReplica(GroupReplica replica, CompletableFuture<Long> future) {
    replica.queuedReads.add(future);
  }

  /** Proposes what each group's leader collected in this iteration as one batch. */
  void flushProposals(Collection<GroupReplica> groups) {
    for (GroupReplica replica : groups) {
      if (replica.queuedProposals.isEmpty()) {
        continue;
      }
      List<GroupReplica.Proposal> batch = new ArrayList<>(replica.queuedProposals);
      replica.queuedProposals.clear();
      if (replica.failure != null) {
        failAll(batch, ReplicaGuard.stopped(replica));
        continue;
      }
      if (replica.raw.status().role() != Role.LEADER) {
        // Not proposed: the caller may route the request again.
        failAll(batch, notLeader(replica));
        continue;
      }
      guard.run(replica, () -> proposeBatch(replica, batch));
      if (replica.failure != null) {
        // The core threw while proposing: nothing in this batch will be answered by apply.
        failAll(batch, ReplicaGuard.stopped(replica));
      }
    }
  }

  private static void failAll(List<GroupReplica.Proposal> batch, DriverException failure) {
    batch.forEach(proposal -> proposal.future().completeExceptionally(failure));
  }

  private void proposeBatch(GroupReplica replica, List<GroupReplica.Proposal> batch) {
    List<byte[]> commands = new ArrayList<>(batch.size());
    batch.forEach(proposal -> commands.add(proposal.data()));
    try {
      replica.raw.proposeBatch(commands);
    } catch (ProposalDroppedException e) {
      failAll(
          batch,
          new DriverException(
              DriverException.Kind.UNAVAILABLE, replica.partition, 0, "proposal dropped: " + e));
      return;
    }
    long now = nanoTime.getAsLong();
    replica.proposedAt.add(new long[] {replica.raw.status().lastIndex(), now});
    for (GroupReplica.Proposal proposal : batch) {
      replica.pending.put(proposal.requestId(), new GroupReplica.Pending(proposal.future(), now));
    }
  }

  /** One ReadIndex round per group for every read queued on it in this iteration. */
  void issueReads(Collection<GroupReplica> groups) {
    for (GroupReplica replica : groups) {
      if (replica.queuedReads.isEmpty() || replica.failure != null) {
        continue;
      }
      long context = ++nextReadContext;
      List<CompletableFuture<Long>> reads = new ArrayList<>(replica.queuedReads);
      replica.queuedReads.clear();
      replica.readsAwaitingIndex.put(context, reads);
      boolean leader = replica.raw.role() == Role.LEADER;
      long leaseReadsBefore = replica.raw.leaseReadCount();
      guard.run(
          replica,
          () -> replica.raw.readIndex(ByteBuffer.allocate(Long.BYTES).putLong(context).array()));
      countReads(leader, replica.raw.leaseReadCount() > leaseReadsBefore, reads.size());
    }
  }

  private void countReads(boolean leader, boolean byLease, int readCount) {
    if (!leader) {
      metrics.readsForwarded.increment(readCount);
    } else if (byLease) {
      metrics.readsByLease.increment(readCount);
    } else {
      metrics.readsByReadIndex.increment(readCount);
    }
  }

  DriverException notLeader(GroupReplica replica) {
    return new DriverException(
        DriverException.Kind.NOT_LEADER,
        replica.partition,
        replica.raw.status().leaderId(),
        "node " + nodeId + " does not lead partition " + replica.partition);
  }
}
