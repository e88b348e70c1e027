package io.ringkv.gossip;

/**
 * Always-on invariant checks for the gossip core (Java's {@code assert} is off by default). The
 * module depends on nothing, so it carries this one small helper of its own.
 */
public final class Invariants {
  private Invariants() {}

  /** Fails with a formatted message when {@code condition} is false. */
  public static void check(boolean condition, String messageFormat, Object... arguments) {
    if (!condition) {
      throw new IllegalStateException(
          "gossip invariant: " + String.format(messageFormat, arguments));
    }
  }
}
