package io.ringkv.raft;

/** A requested log index lies before the first retained entry: it was compacted into a snapshot. */
public final class LogCompactedException extends RuntimeException {
  public LogCompactedException(long index, long firstIndex) {
    super("log index " + index + " is compacted (first retained index " + firstIndex + ")");
  }
}
