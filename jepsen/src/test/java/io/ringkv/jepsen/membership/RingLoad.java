package io.ringkv.jepsen.membership;

import io.ringkv.client.RingKvClient;
import io.ringkv.client.RingKvException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A paced write load through the ringkv Java client for the membership tests: {@code threads}
 * writers put unique keys ({@code <prefix><thread>/<n>}) at {@code rate} puts per second in all,
 * until {@link #stop} or {@code opsMax} puts. It keeps every acknowledged key, every failure with
 * its message, and every acknowledged put's latency, so a test can say that no operation failed,
 * that every acknowledged write is readable afterwards, and what p50/p99 the load saw.
 */
final class RingLoad implements AutoCloseable {
  /** Deadline of one put, retries included: a move may stall a partition for a moment. */
  static final Duration OP_DEADLINE_DEFAULT = Duration.ofSeconds(10);

  private final RingKvClient client;
  private final String prefix;
  private final int threads;
  private final double rate;
  private final long opsMax;
  private final int valueBytes;
  private final AtomicBoolean stopping = new AtomicBoolean();
  private final List<Thread> writers = new ArrayList<>();
  private final ConcurrentLinkedQueue<String> acknowledged = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<long[]> latencies = new ConcurrentLinkedQueue<>();

  RingLoad(List<String> endpoints, String prefix, int threads, double rate, long opsMax) {
    this(endpoints, prefix, threads, rate, opsMax, 0);
  }

  /** As above, each value padded to {@code valueBytes} (0: the decimal sequence number only). */
  RingLoad(
      List<String> endpoints,
      String prefix,
      int threads,
      double rate,
      long opsMax,
      int valueBytes) {
    this.client =
        RingKvClient.builder()
            .endpoints(endpoints)
            .deadline(OP_DEADLINE_DEFAULT)
            .attemptTimeout(OP_DEADLINE_DEFAULT.dividedBy(4))
            .build();
    this.prefix = prefix;
    this.threads = threads;
    this.rate = rate;
    this.opsMax = opsMax;
    this.valueBytes = valueBytes;
  }

  void start() {
    long gapNanos = (long) (threads * 1e9 / rate);
    long perThreadMax = opsMax / threads;
    for (int t = 0; t < threads; t++) {
      int thread = t;
      writers.add(
          Thread.ofPlatform()
              .name("ring-load-" + t)
              .start(() -> write(thread, gapNanos, perThreadMax)));
    }
  }

  private void write(int thread, long gapNanos, long opsMaxOfThread) {
    long next = System.nanoTime();
    for (long n = 0; n < opsMaxOfThread && !stopping.get(); n++) {
      long wait = next - System.nanoTime();
      if (wait > 0) {
        try {
          TimeUnit.NANOSECONDS.sleep(wait); // pacing to the requested rate, not a test wait
        } catch (InterruptedException e) {
          return;
        }
      }
      next += gapNanos;
      String key = prefix + thread + "/" + n;
      long began = System.nanoTime();
      try {
        client.blocking().put(key, value(n));
        long end = System.nanoTime();
        acknowledged.add(key);
        latencies.add(new long[] {end, end - began});
      } catch (RingKvException e) {
        failures.add(key + ": " + e.getClass().getSimpleName() + ": " + e.getMessage());
      }
    }
  }

  private String value(long n) {
    String digits = Long.toString(n);
    return digits.length() >= valueBytes
        ? digits
        : digits + "x".repeat(valueBytes - digits.length());
  }

  /** Waits, at most {@code bound}, for the writers to finish their {@code opsMax} puts. */
  void awaitFinished(Duration bound) throws InterruptedException {
    long deadline = System.nanoTime() + bound.toNanos();
    for (Thread writer : writers) {
      writer.join(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
    }
    stop();
  }

  /** Stops the writers and waits for their last put (bounded by the op deadline). */
  void stop() throws InterruptedException {
    stopping.set(true);
    for (Thread writer : writers) {
      writer.join(OP_DEADLINE_DEFAULT.toMillis() * 2);
    }
  }

  List<String> acknowledged() {
    return List.copyOf(acknowledged);
  }

  List<String> failures() {
    return List.copyOf(failures);
  }

  /** Latency percentile {@code p} (0..1) in ms of puts acknowledged in [fromNanos, toNanos). */
  double latencyMillis(double p, long fromNanos, long toNanos) {
    List<Long> in = new ArrayList<>();
    for (long[] sample : latencies) {
      if (sample[0] >= fromNanos && sample[0] < toNanos) {
        in.add(sample[1]);
      }
    }
    if (in.isEmpty()) {
      return Double.NaN;
    }
    Collections.sort(in);
    int index = (int) Math.min(in.size() - 1, Math.ceil(p * in.size()) - 1);
    return in.get(Math.max(0, index)) / 1e6;
  }

  /** Keys acknowledged but not readable now through a fresh client over {@code endpoints}. */
  static List<String> missing(List<String> endpoints, List<String> keys) {
    List<String> missing = new ArrayList<>();
    try (RingKvClient reader =
        RingKvClient.builder().endpoints(endpoints).deadline(OP_DEADLINE_DEFAULT).build()) {
      for (String key : keys) {
        Optional<?> entry = reader.blocking().get(key);
        if (entry.isEmpty()) {
          missing.add(key);
        }
      }
    }
    return missing;
  }

  @Override
  public void close() throws InterruptedException {
    stop();
    client.close();
  }
}
