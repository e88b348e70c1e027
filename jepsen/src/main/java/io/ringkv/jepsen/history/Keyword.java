package io.ringkv.jepsen.history;

import java.util.Objects;

/**
 * An EDN keyword such as {@code :invoke} or {@code :ns/name}. The name is stored without the
 * leading colon; a namespace, if any, stays part of the name ({@code "ns/name"}).
 */
public record Keyword(String name) implements Comparable<Keyword> {
  public Keyword {
    Objects.requireNonNull(name, "name");
    if (name.isEmpty()) {
      throw new IllegalArgumentException("a keyword needs a name");
    }
  }

  /** The keyword {@code :name}. */
  public static Keyword of(String name) {
    return new Keyword(name);
  }

  @Override
  public int compareTo(Keyword other) {
    return name.compareTo(other.name);
  }

  @Override
  public String toString() {
    return ":" + name;
  }
}
