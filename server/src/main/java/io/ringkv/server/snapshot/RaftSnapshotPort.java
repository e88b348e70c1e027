package io.ringkv.server.snapshot;

import io.ringkv.raft.Message;

/** What snapshot transfers need from the node's Raft driver; every call returns at once. */
public interface RaftSnapshotPort {
  /** True if this node holds a replica of {@code partition}. */
  boolean hosts(int partition);

  /**
   * Hands a received, verified snapshot to the partition's Raft core: {@code message} is the
   * leader's MSG_SNAP whose snapshot data is the local directory's path (UTF-8). The driver owns
   * the directory from here on.
   */
  void deliverSnapshot(long fromNodeId, int partition, Message message);

  /** Tells the leader's Raft core how the snapshot transfer to {@code toNodeId} ended. */
  void reportSnapshot(int partition, long toNodeId, boolean success);
}
