package io.ringkv.client;

import java.util.Map;

/**
 * A watch cannot continue: the cursor of a partition is older than what the node still retains of
 * its changefeed (the consumer was away, or slower than retention, for too long). Restart from a
 * snapshot ({@link WatchQuery#fromSnapshot()}), or ask for {@link WatchQuery.OnCompacted#SNAPSHOT}
 * so the node continues from a snapshot by itself.
 */
public final class WatchCompactedException extends RingKvException {
  private static final long serialVersionUID = 1L;

  private final int partition;
  private final transient Map<Integer, Long> oldestRetained;

  WatchCompactedException(
      String message, int partition, Map<Integer, Long> oldestRetained, Throwable cause) {
    super(message, cause);
    this.partition = partition;
    this.oldestRetained = Map.copyOf(oldestRetained);
  }

  /** The partition whose cursor was too old. */
  public int partition() {
    return partition;
  }

  /** Per partition that was behind, the oldest revision still retained. */
  public Map<Integer, Long> oldestRetained() {
    return oldestRetained;
  }
}
