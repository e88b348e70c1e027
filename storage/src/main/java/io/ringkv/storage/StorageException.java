package io.ringkv.storage;

/** Base of every failure the storage engine reports; callers may catch this one type. */
public class StorageException extends RuntimeException {
  public StorageException(String message) {
    super(message);
  }

  public StorageException(String message, Throwable cause) {
    super(message, cause);
  }
}
