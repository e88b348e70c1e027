package io.ringkv.server.config;

import io.ringkv.storage.StorageOptions;

/**
 * Bounds of the node's write pipeline between the network and the disk. Each stage pushes back when
 * its bound is reached (it takes no new work) instead of failing a replica.
 *
 * @param applyQueueBytesMax committed entry bytes handed to the apply thread and not applied yet;
 *     at this bound the driver takes no new Ready until apply catches up
 * @param commitQueueWritesMax log writes waiting for the group committer; at this bound the driver
 *     takes no new Ready until the committer catches up
 * @param raftInflightBytesMax entry bytes a leader sends one follower before it hears back, so a
 *     follower never gets more than this between two Readies; at most one log write's bytes
 */
public record PipelineLimits(
    long applyQueueBytesMax, int commitQueueWritesMax, long raftInflightBytesMax) {
  public static final long APPLY_QUEUE_BYTES_MAX_DEFAULT =
      io.ringkv.server.raft.DriverSettings.APPLY_QUEUE_BYTES_MAX_DEFAULT;
  public static final long RAFT_INFLIGHT_BYTES_MAX_DEFAULT =
      io.ringkv.server.raft.DriverSettings.RAFT_INFLIGHT_BYTES_MAX_DEFAULT;

  public static final PipelineLimits DEFAULTS =
      new PipelineLimits(
          APPLY_QUEUE_BYTES_MAX_DEFAULT,
          StorageOptions.COMMIT_QUEUE_WRITES_MAX_DEFAULT,
          RAFT_INFLIGHT_BYTES_MAX_DEFAULT);

  public PipelineLimits {
    if (raftInflightBytesMax > StorageOptions.BATCH_SIZE_BYTES_MAX_DEFAULT) {
      throw new ConfigException(
          "raft-inflight-bytes-max",
          "must be at most one log write ("
              + StorageOptions.BATCH_SIZE_BYTES_MAX_DEFAULT
              + " bytes), got "
              + raftInflightBytesMax);
    }
  }
}
