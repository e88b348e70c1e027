package io.ringkv.storage;

import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * How a pipeline thread waits for its next piece of work: it polls its queue for a short while
 * before it parks.
 *
 * <p>Design notes. Each stage of the write path (the driver, the group committer, the apply thread)
 * runs on its own thread and takes work from a queue. A thread that parks on an empty queue must be
 * woken by the next producer, and on the virtual machines ringkv is measured on a park and its
 * wake-up cost tens of microseconds of CPU on both sides (a futex wait and wake, a reschedule).
 * Under load the next piece of work usually arrives within microseconds, so the waiting thread
 * first polls for up to {@code spinNanos} (with {@link Thread#onSpinWait}); a producer that finds
 * no parked consumer wakes nobody. An idle thread spins once per wake-up, so the cost at rest is at
 * most {@code spinNanos} per tick or per piece of work. 0 parks at once.
 */
public final class HandOff {
  /** The default spin: about one fsync's worth of the follower round on this kind of machine. */
  public static final long SPIN_MICROS_DEFAULT = 30;

  private final long spinNanos;

  public HandOff(long spinNanos) {
    if (spinNanos < 0) {
      throw new IllegalArgumentException("spinNanos must be >= 0, got " + spinNanos);
    }
    this.spinNanos = spinNanos;
  }

  public long spinNanos() {
    return spinNanos;
  }

  /**
   * The head of {@code queue}, waiting at most {@code timeoutNanos}: polled for up to the spin time
   * first, then waited for parked; null if nothing came.
   */
  public <T> T poll(BlockingQueue<T> queue, long timeoutNanos) throws InterruptedException {
    T item = queue.poll();
    if (item != null || timeoutNanos <= 0) {
      return item;
    }
    if (spinNanos == 0) {
      return queue.poll(timeoutNanos, TimeUnit.NANOSECONDS);
    }
    long start = System.nanoTime();
    long spin = Math.min(spinNanos, timeoutNanos);
    do {
      Thread.onSpinWait();
      item = queue.poll();
      if (item != null) {
        return item;
      }
    } while (System.nanoTime() - start < spin);
    long left = timeoutNanos - (System.nanoTime() - start);
    return left > 0 ? queue.poll(left, TimeUnit.NANOSECONDS) : null;
  }
}
