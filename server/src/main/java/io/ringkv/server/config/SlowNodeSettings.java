package io.ringkv.server.config;

/**
 * When a node counts itself slow and gives its partition leaderships away. Checked once per leader
 * balance period: slow at once when either check fails, healthy again only after both have passed
 * for {@code recoveryMillis} without a break (hysteresis, so a node that limps does not pull its
 * leaderships back and forth).
 *
 * @param fsyncP99MillisMax group-commit p99 over one balance period above which the node is slow; 0
 *     turns the fsync check off
 * @param healthScoreMin gossip local health score (Lifeguard) at or above which the node is slow; 0
 *     turns the health check off
 * @param recoveryMillis how long both checks must pass before the node is healthy again
 */
public record SlowNodeSettings(long fsyncP99MillisMax, int healthScoreMin, long recoveryMillis) {
  public static final SlowNodeSettings DEFAULTS =
      new SlowNodeSettings(
          Long.parseLong(Setting.SLOW_NODE_FSYNC_P99_MILLIS_MAX.defaultValue()),
          Integer.parseInt(Setting.SLOW_NODE_HEALTH_SCORE_MIN.defaultValue()),
          Long.parseLong(Setting.SLOW_NODE_RECOVERY_MILLIS.defaultValue()));

  public SlowNodeSettings {
    if (fsyncP99MillisMax < 0 || healthScoreMin < 0 || recoveryMillis < 0) {
      throw new IllegalArgumentException("slow-node settings must not be negative");
    }
  }
}
