package io.ringkv.jepsen.checker;

import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.Optional;
import java.util.Set;

/**
 * What the set checker found: {@code lost} are acknowledged adds missing from the final read,
 * {@code unexpected} are elements in the final read that no add could have put there (never
 * attempted, or attempted and definitely failed), {@code recovered} are crashed adds the final read
 * shows took effect. {@code acknowledgedCount} counts acknowledged adds that completed before the
 * final read began, the only ones the read must show.
 */
public record SetCheckResult(
    Verdict verdict,
    int acknowledgedCount,
    Set<Object> lost,
    Set<Object> unexpected,
    Set<Object> recovered,
    Optional<String> unknownReason) {
  public SetCheckResult {
    lost = Collections.unmodifiableSet(new LinkedHashSet<>(lost));
    unexpected = Collections.unmodifiableSet(new LinkedHashSet<>(unexpected));
    recovered = Collections.unmodifiableSet(new LinkedHashSet<>(recovered));
    boolean broken = !lost.isEmpty() || !unexpected.isEmpty();
    if ((verdict == Verdict.INVALID) != broken) {
      throw new IllegalArgumentException(
          "a set history is invalid exactly when it lost or invented");
    }
    if ((verdict == Verdict.UNKNOWN) != unknownReason.isPresent()) {
      throw new IllegalArgumentException("an unknown verdict, and only it, says why");
    }
  }
}
