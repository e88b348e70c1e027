package io.ringkv.jepsen.harness.nemesis;

import io.ringkv.jepsen.history.Keyword;
import java.util.Objects;

/** What a nemesis did, as it goes into the history: {@code :f} and {@code :value}. */
public record NemesisEvent(Keyword f, Object value) {
  public NemesisEvent {
    Objects.requireNonNull(f, "f");
  }

  public static NemesisEvent of(String f, Object value) {
    return new NemesisEvent(Keyword.of(f), value);
  }
}
