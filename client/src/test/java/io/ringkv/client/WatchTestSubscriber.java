package io.ringkv.client;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Flow;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A subscriber for watch tests: records items in order and the error, asks for exactly what the
 * test says (no request of its own unless {@code initialDemand} > 0), and waits on conditions with
 * deadlines.
 */
final class WatchTestSubscriber implements Flow.Subscriber<WatchItem> {
  final LinkedBlockingQueue<WatchItem> items = new LinkedBlockingQueue<>();
  private final long initialDemand;
  volatile Flow.Subscription subscription;
  volatile Throwable error;
  volatile boolean completed;

  WatchTestSubscriber(long initialDemand) {
    this.initialDemand = initialDemand;
  }

  @Override
  public void onSubscribe(Flow.Subscription subscription) {
    this.subscription = subscription;
    if (initialDemand > 0) {
      subscription.request(initialDemand);
    }
  }

  @Override
  public void onNext(WatchItem item) {
    items.add(item);
  }

  @Override
  public void onError(Throwable throwable) {
    error = throwable;
  }

  @Override
  public void onComplete() {
    completed = true;
  }

  /** Takes the next item, waiting up to {@code timeout}; fails when none comes. */
  WatchItem next(Duration timeout) throws InterruptedException {
    WatchItem item = items.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
    if (item == null) {
      throw new AssertionError("no watch item within " + timeout + "; error: " + error);
    }
    return item;
  }

  /** Takes items until {@code count} events arrived, returning them; progress items are skipped. */
  List<WatchEvent> events(int count, Duration timeout) throws InterruptedException {
    List<WatchEvent> events = new ArrayList<>();
    long deadline = System.nanoTime() + timeout.toNanos();
    while (events.size() < count) {
      long leftNanos = deadline - System.nanoTime();
      WatchItem item = items.poll(Math.max(0, leftNanos), TimeUnit.NANOSECONDS);
      if (item == null) {
        throw new AssertionError(
            "only "
                + events.size()
                + " of "
                + count
                + " events within "
                + timeout
                + "; error: "
                + error);
      }
      if (item instanceof WatchEvent event) {
        events.add(event);
      }
    }
    return events;
  }

  /** Waits until {@code condition} holds of this subscriber, up to {@code timeout}. */
  void await(Predicate<WatchTestSubscriber> condition, Duration timeout, String what)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.test(this)) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not within " + timeout + ": " + what + "; error: " + error);
      }
      TimeUnit.MILLISECONDS.sleep(5); // poll interval of a bounded wait
    }
  }
}
