package io.ringkv.server.raft;

import io.ringkv.proto.internal.GroupRaftMessage;
import io.ringkv.proto.internal.RaftBatch;
import io.ringkv.raft.Message;
import io.ringkv.raft.MessageType;
import io.ringkv.server.raft.DriverMetrics.DropReason;
import java.util.function.IntFunction;
import java.util.function.LongSupplier;

/**
 * Steps the Raft messages of a received RaftBatch frame into their groups' cores. Driver thread
 * only.
 *
 * <p>A frame comes from another process, so each message is checked before a core sees it: it must
 * decode, name a group hosted and running here, be addressed to this node by the peer whose
 * connection carried it, and not be a snapshot (those travel only as verified transfers). Anything
 * else is dropped and counted by reason; the core's invariants are never a peer's to trip.
 */
final class PeerInbox {
  private final long nodeId;
  private final IntFunction<GroupReplica> replicas;
  private final ReplicaGuard guard;
  private final DriverMetrics metrics;
  private final LongSupplier balanceHoldUntil;

  /**
   * @param balanceHoldUntil the tick until which a partition handed here on purpose stays here
   */
  PeerInbox(
      long nodeId,
      IntFunction<GroupReplica> replicas,
      ReplicaGuard guard,
      DriverMetrics metrics,
      LongSupplier balanceHoldUntil) {
    this.nodeId = nodeId;
    this.replicas = replicas;
    this.guard = guard;
    this.metrics = metrics;
    this.balanceHoldUntil = balanceHoldUntil;
  }

  void deliver(long fromNodeId, RaftBatch batch) {
    for (GroupRaftMessage grouped : batch.getMessagesList()) {
      long groupId = grouped.getGroupId();
      GroupReplica replica = groupId < Integer.MAX_VALUE ? replicas.apply((int) groupId) : null;
      Message message;
      try {
        message = RaftMessageCodec.decode(grouped.getMessage());
      } catch (RaftMessageCodec.MalformedMessageException e) {
        metrics.dropped(DropReason.MALFORMED);
        continue;
      }
      DropReason drop = dropReason(replica, fromNodeId, message);
      if (drop != null) {
        metrics.dropped(drop);
        continue;
      }
      if (message.type() == MessageType.TIMEOUT_NOW) {
        // Leadership handed here on purpose (a requested transfer): balancing leaves it here.
        replica.balanceAfterTick = balanceHoldUntil.getAsLong();
      }
      guard.run(replica, () -> replica.raw.step(message));
    }
  }

  private DropReason dropReason(GroupReplica replica, long fromNodeId, Message message) {
    if (replica == null) {
      return DropReason.UNKNOWN_GROUP;
    }
    if (replica.failure != null) {
      return DropReason.REPLICA_STOPPED;
    }
    if (message.to() != nodeId || message.from() != fromNodeId) {
      return DropReason.WRONG_ADDRESS;
    }
    if (message.type() == MessageType.SNAPSHOT) {
      return DropReason.SNAPSHOT_IN_BATCH;
    }
    return null;
  }
}
