package io.ringkv.jepsen;

/**
 * Always-on invariant checks for the jepsen module (Java's {@code assert} is off by default). The
 * module may not depend on ringkv-raft, which holds the project-wide helper, so this is its copy.
 */
public final class Invariants {
  private Invariants() {}

  /** Fails with a formatted message when {@code condition} is false. */
  public static void check(boolean condition, String messageFormat, Object... arguments) {
    if (!condition) {
      throw new InvariantViolation(String.format(messageFormat, arguments));
    }
  }

  /** Thrown when an invariant does not hold: a bug in the checker. */
  public static final class InvariantViolation extends IllegalStateException {
    public InvariantViolation(String message) {
      super(message);
    }
  }
}
