package io.ringkv.server.watch;

import io.micrometer.core.instrument.MeterRegistry;
import io.ringkv.raft.Invariants;
import io.ringkv.server.config.WatchLimits;
import io.ringkv.server.raft.AppliedListener;
import java.util.Arrays;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.LongSupplier;

/**
 * The node's registry of Watch streams and the place where applies become deliveries.
 *
 * <p>Design notes. The apply thread tells the hub "partition p applied up to i" ({@link #applied});
 * the hub wakes the streams subscribed to p, which costs one array walk and nothing per event, and
 * nothing at all when no one watches p. A woken stream is served on a small shared executor, one
 * task at a time per stream, so there is no thread per watch; an idle stream holds no buffer, no
 * iterator and no snapshot, only its cursor per partition. Subscriptions per partition are
 * copy-on-write arrays: notifications (every apply) far outnumber registrations. One ticker thread
 * wakes streams whose progress response is due.
 */
final class WatchHub implements AppliedListener, AutoCloseable {
  /** Period of the progress ticker: the resolution of progress intervals. */
  static final long PROGRESS_TICK_MILLIS = 50;

  /** How long close() lets streams send their final status. */
  static final long CLOSE_WAIT_MILLIS = 5_000;

  private static final WatchStream[] NONE = new WatchStream[0];

  final WatchLimits limits;
  final LocalReplicas replicas;
  final WatchMetrics metrics;
  final LongSupplier nanoTime;

  /** Bytes one response may carry (a revision larger than this is split over responses). */
  final long responseBytesMax;

  private final AtomicReferenceArray<WatchStream[]> byPartition;
  private final ConcurrentHashMap<Long, WatchStream> byId = new ConcurrentHashMap<>();
  private final AtomicLong nextId = new AtomicLong();
  private final ExecutorService executor;
  private final ScheduledExecutorService ticker;
  private volatile boolean closed;

  WatchHub(
      WatchLimits limits,
      long responseBytesMax,
      int partitionCount,
      LocalReplicas replicas,
      MeterRegistry registry,
      LongSupplier nanoTime,
      int threads) {
    Invariants.check(responseBytesMax >= 1 && threads >= 1, "bad watch hub bounds");
    this.limits = limits;
    this.responseBytesMax = Math.min(responseBytesMax, limits.watchBufferBytesMax());
    this.replicas = replicas;
    this.metrics = new WatchMetrics(registry);
    this.nanoTime = nanoTime;
    this.byPartition = new AtomicReferenceArray<>(partitionCount);
    for (int partition = 0; partition < partitionCount; partition++) {
      byPartition.set(partition, NONE);
    }
    this.executor =
        Executors.newFixedThreadPool(
            threads, Thread.ofPlatform().name("ringkv-watch-", 0).daemon().factory());
    this.ticker =
        Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().name("ringkv-watch-progress").daemon().factory());
    ticker.scheduleWithFixedDelay(
        this::tick, PROGRESS_TICK_MILLIS, PROGRESS_TICK_MILLIS, TimeUnit.MILLISECONDS);
  }

  /** True once the node began closing: no stream is registered any more. */
  boolean isClosed() {
    return closed;
  }

  /** A fresh stream id (never 0, which means "none" on the wire). */
  long newId() {
    return nextId.incrementAndGet();
  }

  /**
   * Counts {@code stream} in and subscribes it to its partitions; false (nothing changed) when
   * watches-max streams are open or the node is closing.
   */
  boolean register(WatchStream stream) {
    if (closed) {
      return false;
    }
    if (metrics.active.incrementAndGet() > limits.watchesMax()) {
      metrics.active.decrementAndGet();
      metrics.refusedWatchesMax.increment();
      return false;
    }
    byId.put(stream.id, stream);
    synchronized (byPartition) {
      for (int partition : stream.partitions) {
        WatchStream[] before = byPartition.get(partition);
        WatchStream[] after = Arrays.copyOf(before, before.length + 1);
        after[before.length] = stream;
        byPartition.set(partition, after);
      }
    }
    return true;
  }

  /** Forgets {@code stream} (once, when it ends). */
  void unregister(WatchStream stream) {
    if (byId.remove(stream.id, stream)) {
      synchronized (byPartition) {
        for (int partition : stream.partitions) {
          byPartition.set(partition, without(byPartition.get(partition), stream));
        }
      }
      metrics.active.decrementAndGet();
    }
  }

  private static WatchStream[] without(WatchStream[] streams, WatchStream stream) {
    for (int i = 0; i < streams.length; i++) {
      if (streams[i] == stream) {
        WatchStream[] after = Arrays.copyOf(streams, streams.length - 1);
        System.arraycopy(streams, i + 1, after, i, streams.length - i - 1);
        return after;
      }
    }
    return streams;
  }

  /** The open stream with {@code id}, or null. */
  WatchStream find(long id) {
    return byId.get(id);
  }

  @Override
  public void applied(int partition, long appliedIndex) {
    if (partition < 0 || partition >= byPartition.length()) {
      return;
    }
    for (WatchStream stream : byPartition.get(partition)) {
      stream.wake();
    }
  }

  /**
   * Ends the streams that read {@code partition} on this node (UNAVAILABLE: resume from the cursor
   * on another node): its local replica was destroyed, moved elsewhere.
   */
  void replicaGone(int partition) {
    if (partition < 0 || partition >= byPartition.length()) {
      return;
    }
    for (WatchStream stream : byPartition.get(partition)) {
      stream.end(
          io.grpc.Status.UNAVAILABLE.withDescription(
              "partition " + partition + " moved away from this node; resume elsewhere"));
    }
  }

  /** Runs {@code task} on the shared executor; false when the hub is shutting down. */
  boolean execute(Runnable task) {
    try {
      executor.execute(task);
      return true;
    } catch (RejectedExecutionException e) {
      return false;
    }
  }

  private void tick() {
    long now = nanoTime.getAsLong();
    for (WatchStream stream : byId.values()) {
      if (stream.progressDue(now)) {
        stream.wake();
      }
    }
  }

  /** Ends every stream (UNAVAILABLE: resume from the cursor on another node) and the threads. */
  @Override
  public void close() {
    closed = true;
    ticker.shutdownNow();
    for (WatchStream stream : byId.values()) {
      stream.end(io.grpc.Status.UNAVAILABLE.withDescription("node stopping; resume elsewhere"));
    }
    executor.shutdown();
    try {
      executor.awaitTermination(CLOSE_WAIT_MILLIS, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    executor.shutdownNow();
  }
}
