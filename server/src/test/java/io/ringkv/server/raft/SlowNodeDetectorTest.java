package io.ringkv.server.raft;

import static org.assertj.core.api.Assertions.assertThat;

import io.ringkv.server.config.SlowNodeSettings;
import org.junit.jupiter.api.Test;

/**
 * Proves the slow-node verdict alone, with no clock or driver: a bad health score or fsync p99
 * makes the node slow at the first check, it stays slow until both have been good for the whole
 * recovery period without a break, a zero threshold turns its check off, and the windowed p99
 * covers only what happened since the previous check and needs enough commits to mean anything.
 */
class SlowNodeDetectorTest {
  private static final SlowNodeSettings SETTINGS = new SlowNodeSettings(500, 3, 30_000);
  private static final double NO_FSYNC = Double.NaN;

  @Test
  void slowAtOnceThenHealthyOnlyAfterAnUnbrokenRecoveryPeriod() {
    SlowNodeDetector detector = new SlowNodeDetector(SETTINGS);
    assertThat(detector.check(0, 2, 10)).isEqualTo(SlowNodeDetector.Verdict.HEALTHY);
    assertThat(detector.check(5_000, 3, 10)).isEqualTo(SlowNodeDetector.Verdict.HEALTH_SCORE);
    assertThat(detector.check(10_000, 0, 10)).isEqualTo(SlowNodeDetector.Verdict.RECOVERING);
    assertThat(detector.check(35_000, 0, NO_FSYNC)).isEqualTo(SlowNodeDetector.Verdict.RECOVERING);
    // A relapse restarts the recovery period.
    assertThat(detector.check(38_000, 0, 900)).isEqualTo(SlowNodeDetector.Verdict.FSYNC_P99);
    assertThat(detector.check(40_000, 0, 10)).isEqualTo(SlowNodeDetector.Verdict.RECOVERING);
    assertThat(detector.check(69_999, 0, 10)).isEqualTo(SlowNodeDetector.Verdict.RECOVERING);
    assertThat(detector.check(70_000, 0, 10)).isEqualTo(SlowNodeDetector.Verdict.HEALTHY);
    assertThat(detector.slow()).isFalse();
  }

  @Test
  void aZeroThresholdTurnsItsCheckOff() {
    SlowNodeDetector detector = new SlowNodeDetector(new SlowNodeSettings(0, 0, 1_000));
    assertThat(detector.check(0, 7, 60_000)).isEqualTo(SlowNodeDetector.Verdict.HEALTHY);
  }

  @Test
  void theFsyncP99CoversOnlyTheWindowSinceThePreviousCheck() {
    double[] bounds = {1, 10, 100, 1_000, Double.POSITIVE_INFINITY};
    // 1,000 fast commits before the window, then 100 in it, 2 of them slower than 100 ms.
    double[] before = {900, 1_000, 1_000, 1_000, 1_000};
    double[] after = {990, 1_098, 1_098, 1_100, 1_100};
    assertThat(LatencyWindow.quantile(bounds, before, after)).isEqualTo(1_000);
    assertThat(LatencyWindow.quantile(bounds, null, after)).as("since start").isEqualTo(10);
    assertThat(LatencyWindow.quantile(bounds, after, after)).as("empty window").isNaN();
    double[] fewSlow = {990, 1_098, 1_098, 1_100 + 5, 1_100 + 5};
    assertThat(LatencyWindow.quantile(bounds, after, fewSlow))
        .as("5 commits, all slow: too few to judge")
        .isNaN();
  }
}
