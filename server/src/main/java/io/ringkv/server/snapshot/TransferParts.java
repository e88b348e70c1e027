package io.ringkv.server.snapshot;

import io.ringkv.raft.Message;
import io.ringkv.raft.Snapshot;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/** Small pieces both sides of a transfer use. */
final class TransferParts {
  private TransferParts() {}

  /** Daemon threads named {@code name}, at most {@code threads}, with a bounded queue. */
  static ThreadPoolExecutor executor(String name, int threads, int queueTasksMax) {
    ThreadPoolExecutor executor =
        new ThreadPoolExecutor(
            threads,
            threads,
            1,
            TimeUnit.MINUTES,
            new ArrayBlockingQueue<>(queueTasksMax),
            runnable -> {
              Thread thread = new Thread(runnable, name);
              thread.setDaemon(true);
              return thread;
            });
    executor.allowCoreThreadTimeOut(true);
    return executor;
  }

  /** The SNAPSHOT {@code message} with {@code snapshot} in place of its own. */
  static Message withSnapshot(Message message, Snapshot snapshot) {
    return message.withSnapshot(snapshot);
  }
}
