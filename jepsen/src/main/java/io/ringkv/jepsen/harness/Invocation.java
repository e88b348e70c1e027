package io.ringkv.jepsen.harness;

import io.ringkv.jepsen.history.Keyword;
import java.util.Objects;

/** An operation a client is about to invoke: its {@code :f} and {@code :value}. */
record Invocation(Keyword f, Object value) {
  Invocation {
    Objects.requireNonNull(f, "f");
  }
}
