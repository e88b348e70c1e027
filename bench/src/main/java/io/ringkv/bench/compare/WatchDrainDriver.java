package io.ringkv.bench.compare;

import io.ringkv.bench.load.LoadTool;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * How fast one consumer catches up: writes {@code --puts} puts under a prefix of the run's own
 * (closed loop, {@code --inflight} outstanding), then opens one watch of that prefix from the
 * oldest retained change (ringkv OLDEST; etcd revision 1) and counts events until it holds every
 * acknowledged put. The figure is events per second from opening the watch to the last event; the
 * time to the first event and the rate after it are printed apart. The watch reads the whole
 * retained changefeed, so changes outside the prefix (an earlier load) cost the server time and are
 * part of what is measured. Bounded: the watch gives up after {@link #IDLE_TIMEOUT_SECONDS} without
 * an event or {@code --timeout} seconds in all, and then reports how many arrived.
 */
public final class WatchDrainDriver {
  /** Largest number of puts one run may write. */
  static final int PUTS_MAX = 5_000_000;

  /** How long the consumer may see no event before the run gives up. */
  static final long IDLE_TIMEOUT_SECONDS = 20;

  /** How long to wait for the last outstanding puts of the write phase. */
  static final long PUT_DRAIN_TIMEOUT_SECONDS = 30;

  private WatchDrainDriver() {}

  /** Counts events and remembers when the first and the latest arrived. */
  static final class Counter implements WatchTarget.Sink {
    final AtomicLong events = new AtomicLong();
    volatile long firstNanos;
    volatile long lastNanos;
    final AtomicReference<Throwable> ended = new AtomicReference<>();

    @Override
    public void onPut(long sequence) {
      long now = System.nanoTime();
      if (events.getAndIncrement() == 0) {
        firstNanos = now;
      }
      lastNanos = now;
    }

    @Override
    public void onEnd(Throwable failure) {
      ended.compareAndSet(null, failure == null ? new IllegalStateException("completed") : failure);
    }
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> options = LoadTool.parse(args);
    String system = options.getOrDefault("target", "ringkv");
    List<String> endpoints =
        List.of(options.getOrDefault("endpoints", "127.0.0.81:7379").split(","));
    int puts = Integer.parseInt(options.getOrDefault("puts", "200000"));
    int inflight = Integer.parseInt(options.getOrDefault("inflight", "256"));
    int valueBytes = Integer.parseInt(options.getOrDefault("value-bytes", "100"));
    long timeoutSeconds = Long.parseLong(options.getOrDefault("timeout", "300"));
    long seed = Long.parseLong(options.getOrDefault("seed", Long.toString(System.nanoTime())));
    if (puts < 1 || puts > PUTS_MAX || inflight < 1 || valueBytes < WatchTarget.SEQUENCE_BYTES) {
      throw new IllegalArgumentException(
          "--puts must be 1.."
              + PUTS_MAX
              + ", --inflight at least 1, --value-bytes at least "
              + WatchTarget.SEQUENCE_BYTES);
    }
    SplittableRandom random = new SplittableRandom(seed);
    String prefix = "watchdrain/" + Long.toHexString(random.nextLong()) + "/";
    System.out.printf(
        "watch-drain: target=%s puts=%d inflight=%d value-bytes=%d seed=%d prefix=%s%n",
        system, puts, inflight, valueBytes, seed, prefix);
    byte[] value = new byte[valueBytes];
    random.nextBytes(value);
    long acknowledged;
    try (KvTarget target = KvTarget.open(system, endpoints)) {
      acknowledged = write(target, prefix, value, puts, inflight);
    }
    Counter counter = new Counter();
    Throwable endedEarly;
    long opened = System.nanoTime();
    long deadline = opened + TimeUnit.SECONDS.toNanos(timeoutSeconds);
    try (WatchTarget.Subscription subscription =
        WatchTarget.of(system)
            .watchPrefix(
                endpoints.get(0),
                prefix.getBytes(StandardCharsets.UTF_8),
                WatchTarget.Start.OLDEST,
                counter)) {
      while (counter.events.get() < acknowledged && counter.ended.get() == null) {
        long now = System.nanoTime();
        long idleSince = counter.events.get() == 0 ? opened : counter.lastNanos;
        if (now > deadline || now - idleSince > TimeUnit.SECONDS.toNanos(IDLE_TIMEOUT_SECONDS)) {
          break;
        }
        TimeUnit.MILLISECONDS.sleep(10); // polling a counter the transport thread advances
      }
      // Read before closing: the close itself ends the stream.
      endedEarly = counter.ended.get();
    }
    long events = counter.events.get();
    double seconds = events == 0 ? Double.NaN : (counter.lastNanos - opened) / 1e9;
    System.out.printf(
        "watch-drain: acknowledged=%d delivered=%d seconds=%.2f first-event-ms=%.1f"
            + " events-per-second=%.0f after-first-event=%.0f stream-ended-early=%s%n",
        acknowledged,
        events,
        seconds,
        events == 0 ? Double.NaN : (counter.firstNanos - opened) / 1e6,
        events / seconds,
        (events - 1) / ((counter.lastNanos - counter.firstNanos) / 1e9),
        endedEarly);
    if (events < acknowledged) {
      System.out.printf("watch-drain: INCOMPLETE, %d events missing%n", acknowledged - events);
      System.exit(1);
    }
  }

  /** Writes the puts, returns how many were acknowledged, and prints the write rate. */
  private static long write(KvTarget target, String prefix, byte[] value, int puts, int inflight)
      throws InterruptedException {
    AtomicLong acknowledged = new AtomicLong();
    AtomicLong errors = new AtomicLong();
    Semaphore slots = new Semaphore(inflight);
    long start = System.nanoTime();
    for (int sequence = 0; sequence < puts; sequence++) {
      slots.acquire();
      byte[] key = (prefix + sequence).getBytes(StandardCharsets.UTF_8);
      target
          .put(key, WatchTarget.withSequence(value, sequence))
          .whenComplete((result, failure) -> {
            if (failure == null) {
              acknowledged.incrementAndGet();
            } else if (errors.getAndIncrement() == 0) {
              System.err.println("first put failure: " + failure);
            }
            slots.release();
          });
    }
    if (!slots.tryAcquire(inflight, PUT_DRAIN_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
      throw new IllegalStateException(
          "puts still outstanding after " + PUT_DRAIN_TIMEOUT_SECONDS + " s");
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    System.out.printf(
        "watch-drain: wrote %d puts (%d errors) in %.1f s, %.0f puts/s%n",
        acknowledged.get(), errors.get(), seconds, acknowledged.get() / seconds);
    return acknowledged.get();
  }
}
