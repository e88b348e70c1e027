package io.ringkv.server.transport;

import java.util.random.RandomGenerator;

/**
 * Delay before the next dial attempt: exponential in the number of failed attempts, capped, with
 * "equal jitter" (half fixed, half random) so that nodes restarted together do not dial in step.
 * The random source is injected, so tests replay exact delays.
 */
final class ReconnectBackoff {
  private final long minimumMillis;
  private final long maximumMillis;
  private final RandomGenerator random;

  ReconnectBackoff(long minimumMillis, long maximumMillis, RandomGenerator random) {
    if (minimumMillis < 1 || maximumMillis < minimumMillis) {
      throw new IllegalArgumentException(
          "backoff needs 1 <= minimum <= maximum, got " + minimumMillis + ", " + maximumMillis);
    }
    this.minimumMillis = minimumMillis;
    this.maximumMillis = maximumMillis;
    this.random = random;
  }

  /** The delay after {@code failedAttempts} consecutive failures (0 for the first retry). */
  long delayMillis(int failedAttempts) {
    int doublings = Math.min(Math.max(failedAttempts, 0), 30);
    long ceiling = Math.min(maximumMillis, minimumMillis << doublings);
    long half = ceiling / 2;
    long delay;
    synchronized (random) {
      delay = half + random.nextLong(ceiling - half + 1);
    }
    return Math.max(1, delay);
  }
}
