package io.ringkv.jepsen.checker;

import io.ringkv.jepsen.history.Edn;
import io.ringkv.jepsen.history.Keyword;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One thing a changefeed history shows that a correct ringkv could not produce, tied to the
 * consumer that saw it (or, for {@link Rule#DIVERGENT}, the first of the two that disagree) and to
 * the history position where it shows. {@code event} is absent ({@code null}) for a missing write.
 */
public record ChangefeedAnomaly(
    Rule rule,
    long consumer,
    ChangefeedEvent.Id event,
    Object key,
    Object value,
    long position,
    String why) {

  /** The checker's rules, each a way the run can be invalid. */
  public enum Rule {
    /** An acknowledged write the consumer should have seen and did not. */
    MISSING,
    /** The same (partition, revision, ordinal) delivered twice to one consumer. */
    DUPLICATE,
    /** An event of a key delivered after an event of the same key with a higher revision. */
    OUT_OF_ORDER,
    /** An event showing a value no write produced (or a failed write, or one not yet invoked). */
    UNEXPECTED,
    /** Two consumers saw different keys or values at the same (partition, revision, ordinal). */
    DIVERGENT;

    Keyword keyword() {
      return Keyword.of(name().toLowerCase(java.util.Locale.ROOT).replace('_', '-'));
    }
  }

  /** The anomaly as an EDN map for {@code results.edn}. */
  public Map<Object, Object> toEdn() {
    Map<Object, Object> edn = new LinkedHashMap<>();
    edn.put(Keyword.of("rule"), rule.keyword());
    edn.put(Keyword.of("consumer"), consumer);
    if (event != null) {
      edn.put(Keyword.of("event"), List.of(event.partition(), event.revision(), event.ordinal()));
    }
    edn.put(Keyword.of("key"), key);
    edn.put(Keyword.of("value"), value);
    edn.put(Keyword.of("index"), position);
    edn.put(Keyword.of("why"), why);
    return edn;
  }

  /** One line for people. */
  public String describe() {
    return String.format(
        "%s: consumer %d%s key %s value %s at history position %d: %s",
        rule.keyword(),
        consumer,
        event == null ? "" : " event " + event,
        Edn.write(key),
        Edn.write(value),
        position,
        why);
  }
}
