package io.ringkv.server.raft;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The apply thread: runs work handed over by the driver thread, strictly in the order handed over.
 *
 * <p>Design notes. The driver hands committed entries, read releases and snapshot installs of all
 * groups to this one thread as tasks. FIFO order keeps each group's entries in log order, and a
 * snapshot install runs after every entry handed before it. The queue is not bounded here: what
 * enters it is bounded upstream (in-flight proposals per partition, the Raft core's committed
 * entries per Ready, one outstanding Ready per group).
 */
final class ApplyLoop implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ApplyLoop.class);

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

  /** Runs {@code task} after everything queued so far and waits for it (rare work only). */
  void runAndWait(Runnable task) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    execute(() -> {
      try {
        task.run();
        done.complete(null);
      } catch (RuntimeException | Error e) {
        done.completeExceptionally(e);
      }
    });
    done.join();
  }

  /** Tasks queued and not yet run. */
  int queued() {
    return queue.size();
  }

  private void loop() {
    while (running || !queue.isEmpty()) {
      Runnable task;
      try {
        task = queue.poll(100, TimeUnit.MILLISECONDS);
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

  /** Runs what is queued, then stops the thread. */
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
