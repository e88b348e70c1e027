package io.ringkv.server.config;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a file check (TLS files, the gossip key file) every reload interval on a daemon thread of
 * its own, so a slow disk never stalls a network loop. A check that throws is logged and the
 * polling goes on: the next change of the file must still be picked up.
 */
public final class FilePoller implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(FilePoller.class);

  private final ScheduledExecutorService executor;

  private FilePoller(ScheduledExecutorService executor) {
    this.executor = executor;
  }

  /**
   * @param name what is polled, for the thread name ({@code ringkv-NAME-reload}) and logs
   */
  public static FilePoller start(String name, long periodMillis, Runnable check) {
    if (periodMillis < 1) {
      throw new IllegalArgumentException("periodMillis must be >= 1, got " + periodMillis);
    }
    ScheduledExecutorService executor =
        Executors.newSingleThreadScheduledExecutor(runnable -> {
          Thread thread = new Thread(runnable, "ringkv-" + name + "-reload");
          thread.setDaemon(true);
          return thread;
        });
    executor.scheduleWithFixedDelay(
        () -> {
          try {
            check.run();
          } catch (RuntimeException e) {
            log.error("{} reload check failed", name, e);
          }
        },
        periodMillis,
        periodMillis,
        TimeUnit.MILLISECONDS);
    return new FilePoller(executor);
  }

  @Override
  public void close() {
    executor.shutdownNow();
  }
}
