package io.ringkv.jepsen.harness;

import io.ringkv.jepsen.checker.Verdict;
import java.util.Map;
import java.util.Objects;

/**
 * One checker's result as the run reports it: its verdict, an EDN map for {@code results.edn} and a
 * text for people (the counter-example when there is one).
 */
public record CheckOutcome(String checker, Verdict verdict, Map<Object, Object> edn, String text) {
  public CheckOutcome {
    Objects.requireNonNull(checker, "checker");
    Objects.requireNonNull(verdict, "verdict");
    edn = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(edn));
    Objects.requireNonNull(text, "text");
  }
}
