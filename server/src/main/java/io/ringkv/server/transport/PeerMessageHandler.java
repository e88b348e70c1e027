package io.ringkv.server.transport;

import io.ringkv.proto.internal.Heartbeats;
import io.ringkv.proto.internal.RaftBatch;

/**
 * Receives what peers send. Called on a Netty event-loop thread: implementations must be cheap and
 * never block (hand the batch to the driver's queue and return), or they stall every connection of
 * that event loop. An exception thrown here is logged and counted; the connection stays up.
 */
public interface PeerMessageHandler {
  void onRaftBatch(long fromNodeId, RaftBatch batch);

  void onHeartbeats(long fromNodeId, Heartbeats heartbeats);

  /** A connection to {@code nodeId} completed its handshake. */
  default void onPeerConnected(long nodeId) {}

  /** The connection to {@code nodeId} closed; frames sent now are queued (bounded) or dropped. */
  default void onPeerDisconnected(long nodeId) {}
}
