package io.ringkv.jepsen.checker;

import java.util.Objects;
import java.util.Optional;

/**
 * The outcome of checking one history (or one key of it) against a model: the verdict, how many
 * operations had to be placed, how many distinct (placed operations, state) configurations the
 * search memoized, and either the reason for {@link Verdict#UNKNOWN} or, for {@link
 * Verdict#INVALID}, a counter-example.
 */
public record LinearizabilityResult(
    Verdict verdict,
    int operationCount,
    long configurationCount,
    Optional<String> unknownReason,
    Optional<CounterExample> counterExample) {
  public LinearizabilityResult {
    Objects.requireNonNull(verdict, "verdict");
    if (verdict == Verdict.INVALID && counterExample.isEmpty()) {
      throw new IllegalArgumentException("an invalid verdict comes with a counter-example");
    }
    if (verdict == Verdict.UNKNOWN && unknownReason.isEmpty()) {
      throw new IllegalArgumentException("an unknown verdict says why");
    }
  }
}
