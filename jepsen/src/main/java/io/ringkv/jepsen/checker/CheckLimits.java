package io.ringkv.jepsen.checker;

import java.time.Duration;
import java.util.Objects;
import java.util.function.LongSupplier;

/**
 * How much a check may spend before it answers {@link Verdict#UNKNOWN}: wall time, an estimate of
 * the bytes its memo tables hold (shared by all keys of a per-key check), and how many keys are
 * searched at once. The clock is injected so tests can run out of time without waiting.
 */
public record CheckLimits(
    Duration timeLimit, long memoryBytesMax, int parallelism, LongSupplier nanoClock) {
  /** Default wall-time budget of one check. */
  public static final Duration TIME_LIMIT_DEFAULT = Duration.ofMinutes(10);

  public CheckLimits {
    Objects.requireNonNull(timeLimit, "timeLimit");
    Objects.requireNonNull(nanoClock, "nanoClock");
    if (timeLimit.isNegative() || timeLimit.isZero()) {
      throw new IllegalArgumentException("the time limit must be positive, not " + timeLimit);
    }
    if (memoryBytesMax <= 0) {
      throw new IllegalArgumentException("the memory limit must be positive: " + memoryBytesMax);
    }
    if (parallelism < 1) {
      throw new IllegalArgumentException("parallelism must be at least 1: " + parallelism);
    }
  }

  /**
   * Ten minutes, half of the JVM's maximum heap for memo tables, one thread per core, the system
   * clock.
   */
  public static CheckLimits defaults() {
    return new CheckLimits(
        TIME_LIMIT_DEFAULT,
        Runtime.getRuntime().maxMemory() / 2,
        Runtime.getRuntime().availableProcessors(),
        System::nanoTime);
  }

  /** The same limits with another time budget. */
  public CheckLimits withTimeLimit(Duration newTimeLimit) {
    return new CheckLimits(newTimeLimit, memoryBytesMax, parallelism, nanoClock);
  }

  /** The same limits with another memory budget. */
  public CheckLimits withMemoryBytesMax(long newMemoryBytesMax) {
    return new CheckLimits(timeLimit, newMemoryBytesMax, parallelism, nanoClock);
  }

  /** The same limits with another parallelism. */
  public CheckLimits withParallelism(int newParallelism) {
    return new CheckLimits(timeLimit, memoryBytesMax, newParallelism, nanoClock);
  }

  /** The same limits read from another clock. */
  public CheckLimits withNanoClock(LongSupplier newNanoClock) {
    return new CheckLimits(timeLimit, memoryBytesMax, parallelism, newNanoClock);
  }
}
