package io.ringkv.server;

import io.netty.util.HashedWheelTimer;
import io.netty.util.Timeout;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Fails a call's future with a {@link TimeoutException} once its deadline passes, on a hashed wheel
 * timer.
 *
 * <p>Why not {@link CompletableFuture#orTimeout}: its timer is one delay-scheduler thread per JVM,
 * and every future that completes in time cancels its timeout by waking that thread. A put paid one
 * more thread wake-up for that, about 2 % of a node's CPU under load (profile in
 * docs/benchmarks.md). Here a timeout that is cancelled is only marked and dropped at the timer's
 * next tick; the timer thread wakes every {@link #TICK_MILLIS} whatever the load, and a deadline
 * fires at most one tick late.
 */
final class CallDeadlines implements AutoCloseable {
  /** The timer's resolution: deadlines are seconds long, so a few milliseconds late is harmless. */
  static final long TICK_MILLIS = 10;

  private static final int WHEEL_TICKS = 1024;

  private final HashedWheelTimer timer;

  CallDeadlines(String threadName) {
    this.timer =
        new HashedWheelTimer(
            Thread.ofPlatform().name(threadName).daemon().factory(),
            TICK_MILLIS,
            TimeUnit.MILLISECONDS,
            WHEEL_TICKS);
  }

  /**
   * Fails {@code future} with a {@link TimeoutException} if it is not complete within {@code
   * nanos}; returns it.
   */
  <T> CompletableFuture<T> within(CompletableFuture<T> future, long nanos) {
    if (future.isDone()) {
      return future;
    }
    Timeout timeout =
        timer.newTimeout(
            ignored -> future.completeExceptionally(new TimeoutException()),
            Math.max(0, nanos),
            TimeUnit.NANOSECONDS);
    future.whenComplete((result, error) -> timeout.cancel());
    return future;
  }

  @Override
  public void close() {
    timer.stop();
  }
}
