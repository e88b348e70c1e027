package io.ringkv.jepsen.checker;

import java.util.List;
import java.util.Optional;

/**
 * What the changefeed checker found. {@code anomalies} holds at most {@link
 * ChangefeedChecker#ANOMALIES_LISTED_MAX} per rule; {@code anomalyCount} counts them all. {@code
 * acknowledgedCount} counts acknowledged writes, {@code eventCount} events delivered to all
 * consumers, {@code streamCount} streams established, {@code recoveredCount} writes that ended
 * {@code :info} (or never completed) and appeared in some stream.
 */
public record ChangefeedCheckResult(
    Verdict verdict,
    int acknowledgedCount,
    int consumerCount,
    int streamCount,
    long eventCount,
    int recoveredCount,
    int anomalyCount,
    List<ChangefeedAnomaly> anomalies,
    Optional<String> unknownReason) {
  public ChangefeedCheckResult {
    anomalies = List.copyOf(anomalies);
    if ((verdict == Verdict.INVALID) != (anomalyCount > 0)) {
      throw new IllegalArgumentException(
          "a changefeed history is invalid exactly when it shows an anomaly");
    }
    if (anomalies.size() > anomalyCount) {
      throw new IllegalArgumentException("more anomalies listed than counted");
    }
    if ((verdict == Verdict.UNKNOWN) != unknownReason.isPresent()) {
      throw new IllegalArgumentException("an unknown verdict, and only it, says why");
    }
  }

  /** The listed anomalies of {@code rule}. */
  public List<ChangefeedAnomaly> of(ChangefeedAnomaly.Rule rule) {
    return anomalies.stream().filter(a -> a.rule() == rule).toList();
  }
}
