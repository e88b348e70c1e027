package io.ringkv.bench.compare;

import io.ringkv.bench.load.LoadTool;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;
import org.HdrHistogram.Histogram;

/**
 * End-to-end changefeed lag on ringkv or etcd: puts at a fixed open-loop rate while {@code
 * --consumers} watchers each watch the run's key prefix; the lag of one event at one consumer is
 * the time from the put's acknowledgement at the writer to the event's arrival at that consumer,
 * both read from this process's monotonic clock. Every value carries its put's sequence number, so
 * arrivals and acknowledgements are matched after the run, not while it races: an event may reach a
 * watcher before its put's answer reaches the writer, and then counts as lag 0 (and in the
 * "before-ack" figure).
 *
 * <p>Watches start NOW; before any measured put, a marker put must reach every consumer, which
 * proves each watch is established. Puts due in the first {@code --warmup} seconds are not
 * measured. After the last put the driver waits up to {@link #DELIVERY_WAIT_SECONDS} for every
 * acknowledged put to reach every consumer; one that does not is counted as missing (in {@code
 * Return=ERROR} of the WATCH-LAG line), never silently dropped. Output is YCSB's format, so {@link
 * Report} reads it: the PUT line is the puts' latency from their intended send time, the WATCH-LAG
 * line the lag of every (put, consumer) pair.
 */
public final class WatchLagDriver {
  /** Largest number of puts one run may make: every put costs 8 bytes per consumer here. */
  static final long PUTS_MAX = 2_000_000;

  /** Largest number of consumers one run may open. */
  static final int CONSUMERS_MAX = 256;

  /** How long the marker put may take to reach every consumer. */
  static final long ESTABLISH_TIMEOUT_SECONDS = 30;

  /** How long to wait after the last put for acknowledged puts to reach every consumer. */
  static final long DELIVERY_WAIT_SECONDS = 15;

  /** How long to wait for outstanding puts after the last one is sent. */
  static final long PUT_DRAIN_TIMEOUT_SECONDS = 15;

  /** The marker's sequence number: not a measured put. */
  static final long MARKER_SEQUENCE = PUTS_MAX;

  private WatchLagDriver() {}

  /** One consumer's arrival times, indexed by sequence number (0: not arrived). */
  static final class Consumer implements WatchTarget.Sink {
    final AtomicLongArray arrivedNanos;
    final AtomicLong duplicates = new AtomicLong();
    final AtomicLong arrived = new AtomicLong();
    final AtomicReference<Throwable> ended = new AtomicReference<>();
    volatile boolean markerSeen;

    Consumer(int puts) {
      arrivedNanos = new AtomicLongArray(puts);
    }

    @Override
    public void onPut(long sequence) {
      long now = System.nanoTime();
      if (sequence == MARKER_SEQUENCE) {
        markerSeen = true;
      } else if (sequence >= 0 && sequence < arrivedNanos.length()) {
        if (arrivedNanos.compareAndSet((int) sequence, 0, now)) {
          arrived.incrementAndGet();
        } else {
          duplicates.incrementAndGet();
        }
      }
    }

    @Override
    public void onEnd(Throwable failure) {
      ended.compareAndSet(null, failure == null ? new IllegalStateException("completed") : failure);
    }
  }

  /**
   * The lag figures of a run: from acknowledgement to arrival (the figure), and from the put's
   * intended send time to arrival, which still shows the changefeed's delay when the writer's own
   * answers queue up and most events beat their acknowledgement.
   */
  record Lag(Histogram histogram, Histogram fromSend, long missing, long beforeAck) {}

  /**
   * Lag in microseconds of every (measured put, consumer) pair: puts from {@code firstMeasured} on
   * that were acknowledged; an arrival before the acknowledgement counts as 0. Put {@code i} was
   * due at {@code startNanos + i * intervalNanos}.
   */
  static Lag lag(
      AtomicLongArray ackNanos,
      int firstMeasured,
      List<AtomicLongArray> arrivals,
      long startNanos,
      long intervalNanos) {
    Histogram histogram = new Histogram(3);
    Histogram fromSend = new Histogram(3);
    long missing = 0;
    long beforeAck = 0;
    for (int sequence = firstMeasured; sequence < ackNanos.length(); sequence++) {
      long ack = ackNanos.get(sequence);
      if (ack == 0) {
        continue; // never acknowledged (failed or unfinished): no promise to deliver it
      }
      for (AtomicLongArray consumer : arrivals) {
        long arrived = consumer.get(sequence);
        if (arrived == 0) {
          missing++;
        } else {
          if (arrived < ack) {
            beforeAck++;
          }
          histogram.recordValue(Math.max(0, arrived - ack) / 1000);
          long intended = startNanos + sequence * intervalNanos;
          fromSend.recordValue(Math.max(0, arrived - intended) / 1000);
        }
      }
    }
    return new Lag(histogram, fromSend, missing, beforeAck);
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> options = LoadTool.parse(args);
    String system = options.getOrDefault("target", "ringkv");
    List<String> endpoints =
        List.of(options.getOrDefault("endpoints", "127.0.0.81:7379").split(","));
    long rate = Long.parseLong(options.getOrDefault("rate", "1000"));
    int consumers = Integer.parseInt(options.getOrDefault("consumers", "1"));
    long durationSeconds = Long.parseLong(options.getOrDefault("duration", "20"));
    long warmupSeconds = Long.parseLong(options.getOrDefault("warmup", "2"));
    int inflight = Integer.parseInt(options.getOrDefault("inflight", "1024"));
    int keys = Integer.parseInt(options.getOrDefault("keys", "10000"));
    int valueBytes = Integer.parseInt(options.getOrDefault("value-bytes", "100"));
    long seed = Long.parseLong(options.getOrDefault("seed", Long.toString(System.nanoTime())));
    long puts = rate * (warmupSeconds + durationSeconds);
    if (rate <= 0 || puts > PUTS_MAX) {
      throw new IllegalArgumentException(
          "--rate times (--warmup + --duration) must be between 1 and " + PUTS_MAX + ": " + puts);
    }
    if (consumers < 1 || consumers > CONSUMERS_MAX) {
      throw new IllegalArgumentException("--consumers must be 1.." + CONSUMERS_MAX);
    }
    if (valueBytes < WatchTarget.SEQUENCE_BYTES || keys < 1 || inflight < 1) {
      throw new IllegalArgumentException(
          "--value-bytes must be at least "
              + WatchTarget.SEQUENCE_BYTES
              + ", --keys and --inflight at least 1");
    }
    SplittableRandom random = new SplittableRandom(seed);
    // A prefix of this run's own, so earlier runs' keys and events never count.
    String prefix = "watchlag/" + Long.toHexString(random.nextLong()) + "/";
    System.out.printf(
        "watch-lag: target=%s rate=%d consumers=%d duration=%ds warmup=%ds keys=%d value-bytes=%d"
            + " seed=%d prefix=%s%n",
        system, rate, consumers, durationSeconds, warmupSeconds, keys, valueBytes, seed, prefix);
    WatchTarget watch = WatchTarget.of(system);
    List<Consumer> sinks = new ArrayList<>();
    List<WatchTarget.Subscription> subscriptions = new ArrayList<>();
    try (KvTarget target = KvTarget.open(system, endpoints)) {
      for (int i = 0; i < consumers; i++) {
        Consumer sink = new Consumer((int) puts);
        sinks.add(sink);
        subscriptions.add(
            watch.watchPrefix(
                endpoints.get(i % endpoints.size()),
                prefix.getBytes(StandardCharsets.UTF_8),
                WatchTarget.Start.NOW,
                sink));
      }
      byte[] value = new byte[valueBytes];
      random.nextBytes(value);
      establish(target, prefix, value, sinks);
      run(target, sinks, prefix, value, rate, puts, warmupSeconds, keys, inflight, random);
    } finally {
      subscriptions.forEach(WatchTarget.Subscription::close);
    }
  }

  /** Puts the marker (again, every second) until every consumer has seen it, or fails. */
  private static void establish(KvTarget target, String prefix, byte[] value, List<Consumer> sinks)
      throws Exception {
    byte[] key = (prefix + "marker").getBytes(StandardCharsets.UTF_8);
    byte[] marker = WatchTarget.withSequence(value, MARKER_SEQUENCE);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(ESTABLISH_TIMEOUT_SECONDS);
    while (!sinks.stream().allMatch(s -> s.markerSeen)) {
      for (Consumer sink : sinks) {
        if (sink.ended.get() != null) {
          throw new IllegalStateException(
              "a watch ended before it was established", sink.ended.get());
        }
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(
            "the marker put did not reach every consumer within "
                + ESTABLISH_TIMEOUT_SECONDS
                + " s: is Watch served?");
      }
      // A watch that was not yet established when the marker was applied misses it: put it again.
      target.put(key, marker).get(ESTABLISH_TIMEOUT_SECONDS, TimeUnit.SECONDS);
      long waitUntil = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
      while (System.nanoTime() < waitUntil && !sinks.stream().allMatch(s -> s.markerSeen)) {
        TimeUnit.MILLISECONDS.sleep(5); // polling a flag set by the transport threads
      }
    }
  }

  private static void run(
      KvTarget target,
      List<Consumer> sinks,
      String prefix,
      byte[] value,
      long rate,
      long puts,
      long warmupSeconds,
      int keys,
      int inflight,
      SplittableRandom random)
      throws InterruptedException {
    AtomicLongArray ackNanos = new AtomicLongArray((int) puts);
    Histogram putLatency = new Histogram(3);
    AtomicLong errors = new AtomicLong();
    AtomicLong answered = new AtomicLong();
    Semaphore slots = new Semaphore(inflight);
    long intervalNanos = TimeUnit.SECONDS.toNanos(1) / rate;
    int firstMeasured = (int) (rate * warmupSeconds);
    long start = System.nanoTime();
    long recordFrom = start + firstMeasured * intervalNanos;
    for (int sequence = 0; sequence < puts; sequence++) {
      long intended = start + sequence * intervalNanos;
      long wait = intended - System.nanoTime();
      if (wait > 0) {
        TimeUnit.NANOSECONDS.sleep(wait);
      }
      slots.acquire();
      byte[] key = (prefix + random.nextInt(keys)).getBytes(StandardCharsets.UTF_8);
      int index = sequence;
      boolean measured = sequence >= firstMeasured;
      target
          .put(key, WatchTarget.withSequence(value, sequence))
          .whenComplete((result, failure) -> {
            long now = System.nanoTime();
            answered.incrementAndGet();
            if (failure == null) {
              ackNanos.set(index, now);
              if (measured) {
                synchronized (putLatency) {
                  putLatency.recordValue(Math.max(1, (now - intended) / 1000));
                }
              }
            } else if (errors.getAndIncrement() == 0) {
              System.err.println("first put failure: " + failure);
            }
            slots.release();
          });
    }
    long sendEnd = System.nanoTime();
    boolean putsDrained = slots.tryAcquire(inflight, PUT_DRAIN_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    long acknowledged = 0;
    for (int i = 0; i < ackNanos.length(); i++) {
      acknowledged += ackNanos.get(i) != 0 ? 1 : 0;
    }
    long deliveryDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(DELIVERY_WAIT_SECONDS);
    while (System.nanoTime() < deliveryDeadline && !allArrived(sinks, acknowledged)) {
      TimeUnit.MILLISECONDS.sleep(10); // polling counters the transport threads advance
    }
    List<AtomicLongArray> arrivals = sinks.stream().map(s -> s.arrivedNanos).toList();
    Lag lag = lag(ackNanos, firstMeasured, arrivals, start, intervalNanos);
    double seconds = (sendEnd - recordFrom) / 1e9;
    long measuredOk;
    synchronized (putLatency) {
      measuredOk = putLatency.getTotalCount();
    }
    System.out.printf("[OVERALL], RunTime(ms), %d%n", (sendEnd - recordFrom) / 1_000_000);
    System.out.printf("[OVERALL], Throughput(ops/sec), %.1f%n", measuredOk / seconds);
    System.out.printf("[OVERALL], AllOperations, %d%n", answered.get());
    synchronized (putLatency) {
      LoadDriver.printOperation("[PUT]", putLatency, errors.get());
    }
    LoadDriver.printOperation("[WATCH-LAG]", lag.histogram(), lag.missing());
    LoadDriver.printOperation("[WATCH-FROM-SEND]", lag.fromSend(), lag.missing());
    if (!putsDrained) {
      System.out.printf("[PUT], Return=UNFINISHED, %d%n", inflight - slots.availablePermits());
    }
    long duplicates = sinks.stream().mapToLong(s -> s.duplicates.get()).sum();
    long ended = sinks.stream().filter(s -> s.ended.get() != null).count();
    System.out.printf(
        "watch-lag: consumers=%d deliveries=%d missing=%d duplicates=%d before-ack=%d"
            + " streams-ended=%d max-lag-ms=%.1f%n",
        sinks.size(),
        lag.histogram().getTotalCount(),
        lag.missing(),
        duplicates,
        lag.beforeAck(),
        ended,
        lag.histogram().getMaxValue() / 1000.0);
  }

  private static boolean allArrived(List<Consumer> sinks, long acknowledged) {
    return sinks.stream().allMatch(s -> s.arrived.get() >= acknowledged);
  }
}
