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
 * next tick; the timer thread wakes every {@link #TICK_MILLIS} whatever the load (a wake-up costs
 * tens of microseconds of CPU on the machines we measure on, so the tick is coarse). A timeout is
 * set one tick before the deadline, so it fires within one tick before the deadline, never after:
 * the caller still answers inside the margin it keeps before the client's own deadline.
 */
final class CallDeadlines implements AutoCloseable {
  /**
   * The timer's resolution. Call deadlines are seconds long, so ending a call up to this much early
   * is harmless; it must stay below LeaderRouter's margin before the client's deadline.
   */
  static final long TICK_MILLIS = 25;

  private static final int WHEEL_TICKS = 512;

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
   * Fails {@code future} with a {@link TimeoutException} if it is not complete within {@code nanos}
   * (less at most one tick); returns it.
   */
  <T> CompletableFuture<T> within(CompletableFuture<T> future, long nanos) {
    if (future.isDone()) {
      return future;
    }
    Timeout timeout =
        timer.newTimeout(
            ignored -> future.completeExceptionally(new TimeoutException()),
            Math.max(0, nanos - TimeUnit.MILLISECONDS.toNanos(TICK_MILLIS)),
            TimeUnit.NANOSECONDS);
    future.whenComplete((result, error) -> timeout.cancel());
    return future;
  }

  @Override
  public void close() {
    timer.stop();
  }
}
