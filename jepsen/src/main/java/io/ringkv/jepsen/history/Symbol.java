package io.ringkv.jepsen.history;

import java.util.Objects;

/** An EDN symbol such as {@code unlocked}: a bare word that is not nil, true or false. */
public record Symbol(String name) {
  public Symbol {
    Objects.requireNonNull(name, "name");
    if (name.isEmpty()) {
      throw new IllegalArgumentException("a symbol needs a name");
    }
  }

  @Override
  public String toString() {
    return name;
  }
}
