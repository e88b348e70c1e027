package io.ringkv.server.raft;

import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The apply thread: runs work handed over by the driver thread, strictly in the order handed over.
 *
 * <p>Design notes. The driver hands committed entries and read releases of all groups to this one
 * thread as tasks, through {@link ReplicaApplier}. FIFO order keeps each group's entries in log
 * order. This queue holds tasks, not bytes, and has no bound of its own: the bound is kept by
 * {@link ReplicaApplier}, which counts the committed bytes handed over and not applied, and by the
 * persistence stage, which takes no new Ready while that count is at {@code apply-queue-bytes-max}.
 * The other tasks (read releases, failed-read cleanup, the end of a snapshot install) carry no
 * entries and come at most one per group and Ready.
 */
final class ApplyLoop implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ApplyLoop.class);

  /** How often an idle apply thread checks whether it should stop. */
  private static final long IDLE_POLL_MILLIS = 100;

  private final LinkedBlockingQueue<Runnable> queue = new LinkedBlockingQueue<>();
  private final Thread thread;
  private volatile boolean running = true;

  ApplyLoop(String name) {
    this.thread = new Thread(this::loop, name);
    this.thread.setDaemon(true);
  }

  void start() {
    thread.start();
  }

  /** Queues {@code task}; tasks run one at a time in the order queued. */
  void execute(Runnable task) {
    queue.add(task);
  }

  private void loop() {
    while (running || !queue.isEmpty()) {
      Runnable task;
      try {
        task = queue.poll(IDLE_POLL_MILLIS, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      if (task == null) {
        continue;
      }
      try {
        task.run();
      } catch (RuntimeException | Error e) {
        // Tasks contain their own failures per group; anything reaching here is a bug.
        log.error("apply task failed", e);
      }
    }
  }

  /** Lets the thread run what is queued, then stops it (waiting at most ten seconds). */
  @Override
  public void close() {
    running = false;
    try {
      thread.join(TimeUnit.SECONDS.toMillis(10));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
