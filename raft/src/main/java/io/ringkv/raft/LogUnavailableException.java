package io.ringkv.raft;

/** A requested log index lies past the last entry. */
public final class LogUnavailableException extends RuntimeException {
  public LogUnavailableException(long index, long lastIndex) {
    super("log index " + index + " is unavailable (last index " + lastIndex + ")");
  }
}
