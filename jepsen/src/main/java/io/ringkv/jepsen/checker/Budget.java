package io.ringkv.jepsen.checker;

import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/** The time and memory one check may still spend; shared by the searches of all its keys. */
final class Budget {
  private final LongSupplier nanoClock;
  private final long deadlineNanos;
  private final long memoryBytesMax;
  private final AtomicLong memoryBytesUsed = new AtomicLong();

  Budget(CheckLimits limits) {
    this.nanoClock = limits.nanoClock();
    this.deadlineNanos = nanoClock.getAsLong() + limits.timeLimit().toNanos();
    this.memoryBytesMax = limits.memoryBytesMax();
  }

  /** Records that a search now holds {@code bytes} more (negative when it lets go). */
  void charge(long bytes) {
    memoryBytesUsed.addAndGet(bytes);
  }

  /** Why the budget is spent, or null while it is not. */
  String exhaustedReason() {
    long used = memoryBytesUsed.get();
    if (used > memoryBytesMax) {
      return "memory budget of " + memoryBytesMax + " bytes spent (memo tables hold ~" + used + ")";
    }
    if (nanoClock.getAsLong() - deadlineNanos > 0) {
      return "time budget spent";
    }
    return null;
  }
}
