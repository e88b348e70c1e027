package io.ringkv.storage;

/** A record read back from the store failed its checksum or could not be decoded. */
public final class CorruptDataException extends StorageException {
  public CorruptDataException(String message) {
    super(message);
  }

  public CorruptDataException(String message, Throwable cause) {
    super(message, cause);
  }
}
