package io.ringkv.server.raft;

import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/** Waits for a condition of in-process drivers with a deadline, never for a guessed time. */
final class BoundedWait {
  private BoundedWait() {}

  static void await(String what, long waitSeconds, BooleanSupplier condition)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(waitSeconds);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for " + what);
      }
      TimeUnit.MILLISECONDS.sleep(5); // polling interval of a bounded wait
    }
  }
}
