package io.ringkv.gossip;

import java.util.LinkedHashSet;
import java.util.Set;

/**
 * One suspicion's timer. With Lifeguard it starts at the maximum timeout and shrinks toward the
 * minimum as independent members confirm the suspicion (logarithmically, reaching the minimum at
 * {@code confirmationsExpected}); without, it is plain SWIM's fixed minimum.
 */
final class Suspicion {
  private final long incarnation;
  private final long startTick;
  private final long minTicks;
  private final long maxTicks;
  private final int confirmationsExpected;
  private final Set<String> suspectors = new LinkedHashSet<>();
  private long deadlineTick;

  Suspicion(
      long incarnation,
      String firstSuspector,
      long startTick,
      long minTicks,
      long maxTicks,
      int confirmationsExpected) {
    Invariants.check(
        0 < minTicks && minTicks <= maxTicks, "suspicion timeouts %s..%s", minTicks, maxTicks);
    this.incarnation = incarnation;
    this.startTick = startTick;
    this.minTicks = minTicks;
    this.maxTicks = maxTicks;
    this.confirmationsExpected = Math.max(0, confirmationsExpected);
    suspectors.add(firstSuspector);
    this.deadlineTick = startTick + timeoutTicks(0);
  }

  long incarnation() {
    return incarnation;
  }

  long deadlineTick() {
    return deadlineTick;
  }

  /** Records {@code suspector}'s confirmation; true if it was new (and the timer may shrink). */
  boolean confirm(String suspector) {
    if (confirmationsExpected < 1 || suspectors.size() > confirmationsExpected) {
      return false;
    }
    if (!suspectors.add(suspector)) {
      return false;
    }
    deadlineTick = startTick + timeoutTicks(suspectors.size() - 1);
    return true;
  }

  long timeoutTicks(int confirmations) {
    if (confirmationsExpected < 1) {
      return minTicks;
    }
    double fraction = Math.log(confirmations + 1.0) / Math.log(confirmationsExpected + 1.0);
    long timeout = (long) Math.floor(maxTicks - (maxTicks - minTicks) * fraction);
    return Math.max(minTicks, timeout);
  }
}
