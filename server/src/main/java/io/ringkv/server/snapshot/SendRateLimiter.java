package io.ringkv.server.snapshot;

import io.ringkv.raft.Invariants;
import java.util.function.LongSupplier;

/**
 * A token bucket over bytes, shared by every snapshot transfer a node sends (setting {@code
 * rebalance-bytes-per-second-max}): replica moves stream whole partitions, and unthrottled they
 * would take the disk and network from the foreground writes the same node serves.
 *
 * <p>Pure: it only computes how long a sender must wait before its next chunk (the generic cell
 * rate algorithm: each byte pushes a theoretical send time forward by {@code 1 / rate}; a sender
 * waits until that time is no further ahead than the burst). Time comes from the injected clock;
 * the sender thread does the waiting.
 */
final class SendRateLimiter {
  private static final long NANOS_PER_SECOND = 1_000_000_000L;

  private final long bytesPerSecondMax;
  private final long burstNanos;
  private final LongSupplier nanoTime;
  private long theoreticalNanos;

  /**
   * @param bytesPerSecondMax sustained rate
   * @param burstBytesMax bytes that may go at once after an idle period (one chunk, so a single
   *     small snapshot is not slowed at all)
   */
  SendRateLimiter(long bytesPerSecondMax, long burstBytesMax, LongSupplier nanoTime) {
    Invariants.check(bytesPerSecondMax >= 1, "bytesPerSecondMax must be >= 1");
    Invariants.check(burstBytesMax >= 0, "burstBytesMax must be >= 0");
    this.bytesPerSecondMax = bytesPerSecondMax;
    this.burstNanos = costNanos(burstBytesMax);
    this.nanoTime = nanoTime;
    this.theoreticalNanos = nanoTime.getAsLong();
  }

  long bytesPerSecondMax() {
    return bytesPerSecondMax;
  }

  /** Takes {@code bytes} from the bucket; returns the nanoseconds to wait before sending them. */
  synchronized long reserve(long bytes) {
    Invariants.check(bytes >= 0, "bytes must be >= 0");
    long now = nanoTime.getAsLong();
    theoreticalNanos = Math.max(theoreticalNanos, now) + costNanos(bytes);
    long waitNanos = Math.max(0, theoreticalNanos - burstNanos - now);
    Invariants.check(
        theoreticalNanos - (now + waitNanos) <= burstNanos,
        "after the wait the sender is still more than the burst ahead");
    return waitNanos;
  }

  /** Chunks are at most megabytes, far from overflowing a long of byte-nanoseconds. */
  private long costNanos(long bytes) {
    return Math.multiplyExact(bytes, NANOS_PER_SECOND) / bytesPerSecondMax;
  }
}
