package io.ringkv.bench.compare;

import io.ringkv.bench.load.LoadTool;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Recorder;

/**
 * Put/get load against ringkv or etcd through their Java clients, the same for both, printing its
 * result in YCSB's output format so one parser reads both (see {@link Report}).
 *
 * <p>Closed loop ({@code --inflight N}): N requests outstanding, latency from each send. Open loop
 * ({@code --rate R}): requests are due at fixed intervals of 1/R whatever the answers do, and
 * latency is measured from the intended send time, so a stall counts against every request that
 * should have gone out during it (no coordinated omission); at most {@code --inflight} are
 * outstanding, and a request that cannot be sent is counted as late, not skipped. Ops: put, lget
 * (linearizable get), sget (serializable get), mix (50/50 put and linearizable get). Bounded by
 * {@code --duration} seconds; the key choice is seeded (printed). With {@code --report-interval S}
 * it also prints one {@code [WINDOW]} line every S seconds from the start (warm-up included):
 * successful operations per second and p50 in that window, to see a cluster warm up.
 */
public final class LoadDriver {
  /** How long to wait for outstanding requests after the run's time is up. */
  static final long DRAIN_TIMEOUT_SECONDS = 15;

  private LoadDriver() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> options = LoadTool.parse(args);
    String system = options.getOrDefault("target", "ringkv");
    List<String> endpoints =
        List.of(options.getOrDefault("endpoints", "127.0.0.1:7379").split(","));
    String op = options.getOrDefault("op", "put");
    int inflight = Integer.parseInt(options.getOrDefault("inflight", "64"));
    long rate = Long.parseLong(options.getOrDefault("rate", "0"));
    long durationSeconds = Long.parseLong(options.getOrDefault("duration", "20"));
    long warmupSeconds = Long.parseLong(options.getOrDefault("warmup", "0"));
    int keys = Integer.parseInt(options.getOrDefault("keys", "10000"));
    int valueBytes = Integer.parseInt(options.getOrDefault("value-bytes", "100"));
    long seed = Long.parseLong(options.getOrDefault("seed", Long.toString(System.nanoTime())));
    long reportIntervalSeconds = Long.parseLong(options.getOrDefault("report-interval", "0"));
    if (reportIntervalSeconds < 0) {
      throw new IllegalArgumentException("--report-interval must be 0 (off) or positive seconds");
    }
    if (!List.of("put", "lget", "sget", "mix").contains(op)) {
      throw new IllegalArgumentException("--op must be put, lget, sget or mix: " + op);
    }
    System.out.printf(
        "load: target=%s op=%s inflight=%d rate=%d duration=%ds keys=%d value-bytes=%d seed=%d%n",
        system, op, inflight, rate, durationSeconds, keys, valueBytes, seed);
    try (KvTarget target = KvTarget.open(system, endpoints)) {
      run(
          target,
          op,
          inflight,
          rate,
          warmupSeconds,
          durationSeconds,
          keys,
          valueBytes,
          seed,
          reportIntervalSeconds);
    }
  }

  private static void run(
      KvTarget target,
      String op,
      int inflight,
      long rate,
      long warmupSeconds,
      long durationSeconds,
      int keys,
      int valueBytes,
      long seed,
      long reportIntervalSeconds)
      throws InterruptedException {
    SplittableRandom random = new SplittableRandom(seed);
    byte[] value = new byte[valueBytes];
    random.nextBytes(value);
    Recorder recorder = new Recorder(3);
    AtomicLong ok = new AtomicLong();
    AtomicLong errors = new AtomicLong();
    // Every answered request, warm-up included: what the servers' CPU figure is divided by.
    AtomicLong answered = new AtomicLong();
    Semaphore slots = new Semaphore(inflight);
    long start = System.nanoTime();
    Recorder windowRecorder = new Recorder(3);
    ScheduledExecutorService windows =
        reportIntervalSeconds > 0 ? windowReporter(windowRecorder, reportIntervalSeconds) : null;
    // Requests due before recordFrom warm up the client, the JIT and connections and are not
    // counted.
    long recordFrom = start + TimeUnit.SECONDS.toNanos(warmupSeconds);
    long end = recordFrom + TimeUnit.SECONDS.toNanos(durationSeconds);
    long intervalNanos = rate > 0 ? TimeUnit.SECONDS.toNanos(1) / rate : 0;
    long sent = 0;
    while (true) {
      long intended;
      if (rate > 0) {
        intended = start + sent * intervalNanos;
        if (intended >= end) {
          break;
        }
        long wait = intended - System.nanoTime();
        if (wait > 0) {
          TimeUnit.NANOSECONDS.sleep(wait);
        }
        slots.acquire();
      } else {
        slots.acquire();
        intended = System.nanoTime();
        if (intended >= end) {
          slots.release();
          break;
        }
      }
      byte[] key = ("k" + random.nextInt(keys)).getBytes(StandardCharsets.UTF_8);
      boolean write = op.equals("put") || (op.equals("mix") && random.nextBoolean());
      CompletableFuture<?> call =
          write ? target.put(key, value) : target.get(key, !op.equals("sget"));
      sent++;
      long from = intended;
      call.whenComplete((result, failure) -> {
        answered.incrementAndGet();
        if (failure == null) {
          windowRecorder.recordValue(Math.max(1, (System.nanoTime() - from) / 1000));
        }
        if (from < recordFrom) {
          // warm-up: neither recorded nor counted
        } else if (failure == null) {
          recorder.recordValue(Math.max(1, (System.nanoTime() - from) / 1000));
          ok.incrementAndGet();
        } else if (errors.getAndIncrement() == 0) {
          System.err.println("first failure: " + failure);
        }
        slots.release();
      });
    }
    long sendEnd = System.nanoTime();
    if (windows != null) {
      windows.shutdownNow();
    }
    boolean drained = slots.tryAcquire(inflight, DRAIN_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    double seconds = (sendEnd - recordFrom) / 1e9;
    org.HdrHistogram.Histogram histogram = recorder.getIntervalHistogram();
    String name = "[" + op.toUpperCase(java.util.Locale.ROOT) + "]";
    System.out.printf("[OVERALL], RunTime(ms), %d%n", (sendEnd - recordFrom) / 1_000_000);
    System.out.printf("[OVERALL], Throughput(ops/sec), %.1f%n", ok.get() / seconds);
    System.out.printf("[OVERALL], AllOperations, %d%n", answered.get());
    printOperation(name, histogram, errors.get());
    if (!drained) {
      System.out.printf("%s, Return=UNFINISHED, %d%n", name, inflight - slots.availablePermits());
    }
  }

  /**
   * Prints, every {@code intervalSeconds}, the window's end (seconds since the start), its
   * successful operations per second and their p50 and p99 in µs, from {@code recorder}'s interval.
   */
  private static ScheduledExecutorService windowReporter(Recorder recorder, long intervalSeconds) {
    ScheduledExecutorService executor =
        Executors.newSingleThreadScheduledExecutor(runnable -> {
          Thread thread = new Thread(runnable, "load-window-report");
          thread.setDaemon(true);
          return thread;
        });
    AtomicLong windowIndex = new AtomicLong();
    executor.scheduleAtFixedRate(
        () -> {
          org.HdrHistogram.Histogram window = recorder.getIntervalHistogram();
          System.out.printf(
              "[WINDOW], %ds, %.1f ops/sec, p50 %d us, p99 %d us%n",
              windowIndex.incrementAndGet() * intervalSeconds,
              (double) window.getTotalCount() / intervalSeconds,
              window.getValueAtPercentile(50),
              window.getValueAtPercentile(99));
        },
        intervalSeconds,
        intervalSeconds,
        TimeUnit.SECONDS);
    return executor;
  }

  /** One operation's lines in YCSB's format: count, p50, p99, p99.9 and maximum in µs, errors. */
  static void printOperation(String name, org.HdrHistogram.Histogram histogram, long errors) {
    System.out.printf("%s, Operations, %d%n", name, histogram.getTotalCount());
    System.out.printf(
        "%s, 50thPercentileLatency(us), %d%n", name, histogram.getValueAtPercentile(50));
    System.out.printf(
        "%s, 99thPercentileLatency(us), %d%n", name, histogram.getValueAtPercentile(99));
    System.out.printf(
        "%s, 99.9PercentileLatency(us), %d%n", name, histogram.getValueAtPercentile(99.9));
    System.out.printf("%s, MaxLatency(us), %d%n", name, histogram.getMaxValue());
    System.out.printf("%s, Return=ERROR, %d%n", name, errors);
  }
}
