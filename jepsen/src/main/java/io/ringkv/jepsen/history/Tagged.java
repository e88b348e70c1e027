package io.ringkv.jepsen.history;

import java.util.Objects;

/**
 * An EDN tagged element such as {@code #inst "2026-01-01T00:00:00Z"}. Histories rarely hold one; we
 * keep tag and value as read, so a history round-trips without knowing what the tag means.
 */
public record Tagged(String tag, Object value) {
  public Tagged {
    Objects.requireNonNull(tag, "tag");
  }

  @Override
  public String toString() {
    return "#" + tag + " " + Edn.write(value);
  }
}
