package io.ringkv.client;

import java.util.random.RandomGenerator;

/**
 * Exponential backoff with "equal jitter": attempt n waits a random time in [base/2, base] where
 * base = min(max, initial * 2^n). Half of the wait is fixed so retries never stampede with zero
 * delay; the other half is random so clients that failed together spread out. The random source is
 * injected so tests can check the bounds with a seeded generator.
 */
final class Backoff {
  private final long initialNanos;
  private final long maxNanos;
  private final RandomGenerator random;

  Backoff(long initialNanos, long maxNanos, RandomGenerator random) {
    if (initialNanos <= 0 || maxNanos < initialNanos) {
      throw new IllegalArgumentException(
          "backoff needs 0 < initial <= max, got initial="
              + initialNanos
              + "ns max="
              + maxNanos
              + "ns");
    }
    this.initialNanos = initialNanos;
    this.maxNanos = maxNanos;
    this.random = random;
  }

  /** The largest wait before attempt {@code retryIndex} (0 for the first retry). */
  long ceilingNanos(int retryIndex) {
    if (retryIndex < 0) {
      throw new IllegalArgumentException("retry index must be >= 0, got " + retryIndex);
    }
    // Shifting past 62 bits would overflow; by then the cap has long been reached.
    int shift = Math.min(retryIndex, 62);
    long base = initialNanos << shift;
    if (base <= 0 || (base >>> shift) != initialNanos || base > maxNanos) {
      return maxNanos;
    }
    return base;
  }

  /** A jittered wait in [ceiling/2, ceiling] before attempt {@code retryIndex}. */
  long delayNanos(int retryIndex) {
    long ceiling = ceilingNanos(retryIndex);
    long half = ceiling / 2;
    long delay;
    synchronized (random) {
      delay = half + random.nextLong(ceiling - half + 1);
    }
    if (delay < half || delay > ceiling) {
      throw new IllegalStateException(
          "backoff " + delay + " outside [" + half + ", " + ceiling + "]");
    }
    return delay;
  }
}
