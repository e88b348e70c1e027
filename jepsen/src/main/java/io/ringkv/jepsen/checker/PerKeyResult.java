package io.ringkv.jepsen.checker;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The outcome of a per-key check: one result per independent key, in order of first appearance, and
 * their combined verdict (invalid if any key is invalid, else unknown if any is unknown).
 */
public record PerKeyResult(Verdict verdict, Map<Object, LinearizabilityResult> byKey) {
  public PerKeyResult {
    byKey = Collections.unmodifiableMap(new LinkedHashMap<>(byKey));
    Verdict combined = Verdict.VALID;
    for (LinearizabilityResult result : byKey.values()) {
      combined = combined.and(result.verdict());
    }
    if (combined != verdict) {
      throw new IllegalArgumentException("verdict " + verdict + " but the keys say " + combined);
    }
  }

  /** Combines per-key results into one. */
  public static PerKeyResult of(Map<Object, LinearizabilityResult> byKey) {
    Verdict combined = Verdict.VALID;
    for (LinearizabilityResult result : byKey.values()) {
      combined = combined.and(result.verdict());
    }
    return new PerKeyResult(combined, byKey);
  }
}
