package io.ringkv.server;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.ringkv.storage.ChangefeedLog;
import io.ringkv.storage.StorageEngine;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs changefeed retention on a schedule: one daemon thread that, every interval, asks the
 * changefeed log of each hosted partition to drop what is older than the retention age or beyond
 * its byte budget. Without it change records would only ever be dropped when someone asked.
 *
 * <p>Quiet when there is nothing to drop; one log line per partition that lost records. A failure
 * on one partition is logged and counted and does not stop the schedule (a scheduled task that
 * throws is never run again). {@link #close()} stops the thread and waits for a run in progress, so
 * the storage engine can be closed right after.
 */
final class ChangefeedRetention implements AutoCloseable {
  static final String THREAD_NAME = "ringkv-changefeed-retention";

  /** How long close() waits for a retention run in progress to finish. */
  static final long CLOSE_WAIT_MILLIS = 10_000;

  private static final Logger log = LoggerFactory.getLogger(ChangefeedRetention.class);

  private final StorageEngine engine;
  private final Supplier<List<Integer>> partitions;
  private final Counter droppedRecords;
  private final Counter failures;
  private final ScheduledExecutorService scheduler;

  private ChangefeedRetention(
      StorageEngine engine, Supplier<List<Integer>> partitions, MeterRegistry registry) {
    this.engine = engine;
    this.partitions = partitions;
    this.droppedRecords =
        Counter.builder("ringkv.changefeed.retention.dropped")
            .description("Change records dropped by the scheduled retention check")
            .register(registry);
    this.failures =
        Counter.builder("ringkv.changefeed.retention.failures")
            .description("Partitions whose scheduled retention check failed")
            .register(registry);
    this.scheduler =
        Executors.newSingleThreadScheduledExecutor(runnable -> {
          Thread thread = new Thread(runnable, THREAD_NAME);
          thread.setDaemon(true);
          return thread;
        });
  }

  /** Starts checking every {@code intervalMillis} (the first check after one interval). */
  static ChangefeedRetention start(
      StorageEngine engine,
      Supplier<List<Integer>> partitions,
      long intervalMillis,
      MeterRegistry registry) {
    ChangefeedRetention retention = new ChangefeedRetention(engine, partitions, registry);
    retention.scheduler.scheduleWithFixedDelay(
        retention::runOnce, intervalMillis, intervalMillis, TimeUnit.MILLISECONDS);
    return retention;
  }

  /** One pass over every hosted partition. */
  void runOnce() {
    for (int partition : partitions.get()) {
      if (Thread.currentThread().isInterrupted()) {
        return;
      }
      try {
        ChangefeedLog changefeed = engine.changefeed(partition);
        int dropped = changefeed.enforceRetention();
        if (dropped > 0) {
          droppedRecords.increment(dropped);
          log.info(
              "changefeed retention dropped {} records of partition {}; oldest retained revision"
                  + " now {}",
              dropped,
              partition,
              changefeed.oldestRetainedRevision());
        }
      } catch (RuntimeException e) {
        failures.increment();
        log.warn("changefeed retention of partition {} failed", partition, e);
      }
    }
  }

  @Override
  public void close() {
    scheduler.shutdownNow();
    try {
      if (!scheduler.awaitTermination(CLOSE_WAIT_MILLIS, TimeUnit.MILLISECONDS)) {
        log.warn("changefeed retention did not stop within {} ms", CLOSE_WAIT_MILLIS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
