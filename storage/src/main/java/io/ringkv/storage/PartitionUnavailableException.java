package io.ringkv.storage;

/**
 * A partition cannot serve reads or applies: a snapshot install did not finish and could not be
 * rolled forward, so its state is incomplete until a new snapshot is installed (see {@link
 * PartitionStore#needsSnapshot()}).
 */
public final class PartitionUnavailableException extends StorageException {
  public PartitionUnavailableException(long groupId, String reason) {
    super("partition of group " + groupId + " needs a new snapshot: " + reason);
  }
}
