package io.ringkv.server.raft;

import io.ringkv.server.config.SlowNodeSettings;

/**
 * Decides, as a pure function of its inputs, whether this node counts itself slow: slow at once
 * when its gossip health score or its fsync p99 is over the line, healthy again only after both
 * have stayed under it for the recovery period without a break. The asymmetry is the point: a node
 * that limps hands its leaderships away on the first bad check but does not pull them back on the
 * first good one, so leadership does not swing back and forth with every pause.
 */
final class SlowNodeDetector {
  /** Why the node counts itself slow, or HEALTHY. */
  enum Verdict {
    HEALTHY,
    HEALTH_SCORE,
    FSYNC_P99,
    RECOVERING
  }

  private final SlowNodeSettings settings;
  private boolean slow;
  private long goodSinceMillis = -1;
  private Verdict verdict = Verdict.HEALTHY;

  SlowNodeDetector(SlowNodeSettings settings) {
    this.settings = settings;
  }

  /**
   * One check at {@code nowMillis} (monotonic). {@code fsyncP99Millis} is NaN when no fsync
   * happened in the period (nothing to judge).
   */
  Verdict check(long nowMillis, int healthScore, double fsyncP99Millis) {
    boolean badHealth = settings.healthScoreMin() > 0 && healthScore >= settings.healthScoreMin();
    boolean badFsync =
        settings.fsyncP99MillisMax() > 0
            && !Double.isNaN(fsyncP99Millis)
            && fsyncP99Millis > settings.fsyncP99MillisMax();
    if (badHealth || badFsync) {
      slow = true;
      goodSinceMillis = -1;
      verdict = badHealth ? Verdict.HEALTH_SCORE : Verdict.FSYNC_P99;
    } else if (slow) {
      if (goodSinceMillis < 0) {
        goodSinceMillis = nowMillis;
      }
      slow = nowMillis - goodSinceMillis < settings.recoveryMillis();
      verdict = slow ? Verdict.RECOVERING : Verdict.HEALTHY;
    }
    io.ringkv.raft.Invariants.check(
        slow == (verdict != Verdict.HEALTHY), "slow-node verdict out of step with the flag");
    return verdict;
  }

  boolean slow() {
    return slow;
  }
}
