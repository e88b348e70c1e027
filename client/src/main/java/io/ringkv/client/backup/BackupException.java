package io.ringkv.client.backup;

/** A backup or restore that cannot go on; the message names the file or step that failed. */
public final class BackupException extends RuntimeException {
  public BackupException(String message) {
    super(message);
  }

  public BackupException(String message, Throwable cause) {
    super(message, cause);
  }
}
