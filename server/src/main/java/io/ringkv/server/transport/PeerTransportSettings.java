package io.ringkv.server.transport;

import java.net.InetSocketAddress;

/**
 * Settings of a {@link PeerTransport}; validated when built.
 *
 * @param clusterId peers must present the same cluster id
 * @param nodeId this node's id, > 0
 * @param listenAddress where to accept peer connections (port 0: any free port)
 * @param frameSizeBytesMax largest frame sent or accepted after the handshake
 * @param sendQueueFramesMax frames held per peer while it is not connected; more are dropped
 * @param writeBufferBytesHigh bytes buffered in a connection above which sends are dropped until it
 *     drains (the kernel and the peer are not keeping up)
 * @param handshakeTimeoutMillis a connection that has not completed its handshake by then is closed
 * @param idleTimeoutMillis a connection that received nothing for this long is closed (keepalives
 *     are sent after a third of it without writes)
 * @param reconnectBackoffMinMillis first retry delay after a failed or lost connection
 * @param reconnectBackoffMaxMillis cap of the exponential retry delay
 * @param eventLoopThreads Netty threads for all peer connections
 */
public record PeerTransportSettings(
    String clusterId,
    long nodeId,
    InetSocketAddress listenAddress,
    int frameSizeBytesMax,
    int sendQueueFramesMax,
    int writeBufferBytesHigh,
    long handshakeTimeoutMillis,
    long idleTimeoutMillis,
    long reconnectBackoffMinMillis,
    long reconnectBackoffMaxMillis,
    int eventLoopThreads) {
  public static final int FRAME_SIZE_BYTES_MAX_DEFAULT = 16 * 1024 * 1024;
  public static final int SEND_QUEUE_FRAMES_MAX_DEFAULT = 4096;
  public static final int WRITE_BUFFER_BYTES_HIGH_DEFAULT = 8 * 1024 * 1024;
  public static final long HANDSHAKE_TIMEOUT_MILLIS_DEFAULT = 5_000;
  public static final long IDLE_TIMEOUT_MILLIS_DEFAULT = 10_000;
  public static final long RECONNECT_BACKOFF_MIN_MILLIS_DEFAULT = 50;
  public static final long RECONNECT_BACKOFF_MAX_MILLIS_DEFAULT = 2_000;
  public static final int EVENT_LOOP_THREADS_DEFAULT = 2;

  public PeerTransportSettings {
    require(clusterId != null && !clusterId.isEmpty(), "clusterId must not be empty");
    require(nodeId > 0, "nodeId must be > 0");
    require(
        listenAddress != null && !listenAddress.isUnresolved(), "listenAddress must be resolved");
    require(
        frameSizeBytesMax >= PeerTransport.HANDSHAKE_FRAME_SIZE_BYTES_MAX,
        "frameSizeBytesMax must be >= " + PeerTransport.HANDSHAKE_FRAME_SIZE_BYTES_MAX);
    require(sendQueueFramesMax >= 1, "sendQueueFramesMax must be >= 1");
    require(writeBufferBytesHigh >= 1024, "writeBufferBytesHigh must be >= 1024");
    require(handshakeTimeoutMillis >= 1, "handshakeTimeoutMillis must be >= 1");
    require(idleTimeoutMillis >= 3, "idleTimeoutMillis must be >= 3");
    require(
        reconnectBackoffMinMillis >= 1 && reconnectBackoffMaxMillis >= reconnectBackoffMinMillis,
        "need 1 <= reconnectBackoffMinMillis <= reconnectBackoffMaxMillis");
    require(eventLoopThreads >= 1 && eventLoopThreads <= 64, "eventLoopThreads must be in [1, 64]");
  }

  /** Defaults for everything but identity and address. */
  public static PeerTransportSettings defaults(
      String clusterId, long nodeId, InetSocketAddress listenAddress) {
    return new PeerTransportSettings(
        clusterId,
        nodeId,
        listenAddress,
        FRAME_SIZE_BYTES_MAX_DEFAULT,
        SEND_QUEUE_FRAMES_MAX_DEFAULT,
        WRITE_BUFFER_BYTES_HIGH_DEFAULT,
        HANDSHAKE_TIMEOUT_MILLIS_DEFAULT,
        IDLE_TIMEOUT_MILLIS_DEFAULT,
        RECONNECT_BACKOFF_MIN_MILLIS_DEFAULT,
        RECONNECT_BACKOFF_MAX_MILLIS_DEFAULT,
        EVENT_LOOP_THREADS_DEFAULT);
  }

  public PeerTransportSettings withLimits(int newFrameSizeBytesMax, int newSendQueueFramesMax) {
    return new PeerTransportSettings(
        clusterId,
        nodeId,
        listenAddress,
        newFrameSizeBytesMax,
        newSendQueueFramesMax,
        writeBufferBytesHigh,
        handshakeTimeoutMillis,
        idleTimeoutMillis,
        reconnectBackoffMinMillis,
        reconnectBackoffMaxMillis,
        eventLoopThreads);
  }

  public PeerTransportSettings withTimeouts(long newHandshakeTimeoutMillis, long newIdleMillis) {
    return new PeerTransportSettings(
        clusterId,
        nodeId,
        listenAddress,
        frameSizeBytesMax,
        sendQueueFramesMax,
        writeBufferBytesHigh,
        newHandshakeTimeoutMillis,
        newIdleMillis,
        reconnectBackoffMinMillis,
        reconnectBackoffMaxMillis,
        eventLoopThreads);
  }

  private static void require(boolean condition, String message) {
    if (!condition) {
      throw new IllegalArgumentException("peer transport: " + message);
    }
  }
}
