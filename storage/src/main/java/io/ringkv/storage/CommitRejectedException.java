package io.ringkv.storage;

/**
 * The group committer did not accept a write: its queue was full ({@code commitQueueWritesMax}), it
 * was closed, or an earlier durable write failed and it stopped. Nothing of the write was stored.
 */
public final class CommitRejectedException extends StorageException {
  public CommitRejectedException(String message) {
    super(message);
  }

  public CommitRejectedException(String message, Throwable cause) {
    super(message, cause);
  }
}
