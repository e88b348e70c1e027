package io.ringkv.client;

/**
 * Always-on invariant checks for the client (Java's {@code assert} is off by default). A broken
 * invariant means a bug in the client or a node breaking the protocol; failing loudly beats handing
 * an application a wrong cursor.
 */
final class Invariants {
  private Invariants() {}

  /** Fails with a formatted message when {@code condition} is false. */
  static void check(boolean condition, String messageFormat, Object... arguments) {
    if (!condition) {
      throw new IllegalStateException(
          "ringkv client invariant: " + String.format(messageFormat, arguments));
    }
  }
}
