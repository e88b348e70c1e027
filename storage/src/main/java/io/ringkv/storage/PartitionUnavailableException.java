package io.ringkv.storage;

/**
 * A partition cannot serve reads or applies: a snapshot install was interrupted, so its state is
 * incomplete until a new snapshot is installed.
 */
public final class PartitionUnavailableException extends StorageException {
  public PartitionUnavailableException(long groupId) {
    super("partition of group " + groupId + " needs a new snapshot (an install was interrupted)");
  }
}
