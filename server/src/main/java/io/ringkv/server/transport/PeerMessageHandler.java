package io.ringkv.server.transport;

import io.ringkv.proto.internal.Heartbeats;
import io.ringkv.proto.internal.RaftBatch;
import io.ringkv.proto.internal.SnapshotChunk;
import io.ringkv.proto.internal.SnapshotChunkAck;

/**
 * Receives what peers send. Called on a Netty event-loop thread: implementations must be cheap and
 * never block (hand the batch to the driver's queue and return), or they stall every connection of
 * that event loop. An exception thrown here is logged and counted; the connection stays up.
 */
public interface PeerMessageHandler {
  void onRaftBatch(long fromNodeId, RaftBatch batch);

  void onHeartbeats(long fromNodeId, Heartbeats heartbeats);

  /** A chunk of a snapshot a peer streams to this node; ignored unless snapshots are wired. */
  default void onSnapshotChunk(long fromNodeId, SnapshotChunk chunk) {}

  /** A peer's answer to a snapshot chunk this node sent. */
  default void onSnapshotChunkAck(long fromNodeId, SnapshotChunkAck ack) {}

  /** A connection to {@code nodeId} completed its handshake. */
  default void onPeerConnected(long nodeId) {}

  /** The connection to {@code nodeId} closed; frames sent now are queued (bounded) or dropped. */
  default void onPeerDisconnected(long nodeId) {}
}
