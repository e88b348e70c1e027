package io.ringkv.storage;

/** A snapshot to install failed verification (checksum, manifest, group); the old state is kept. */
public final class SnapshotRejectedException extends StorageException {
  public SnapshotRejectedException(String message) {
    super(message);
  }
}
