package io.ringkv.raft;

/**
 * Always-on invariant checks (Java's {@code assert} is off by default). A failed check throws
 * {@link InvariantViolation}: the caller stops the affected replica loudly instead of corrupting
 * data.
 */
public final class Invariants {
  private Invariants() {}

  /** Fails with a formatted message when {@code condition} is false. */
  public static void check(boolean condition, String messageFormat, Object... arguments) {
    if (!condition) {
      throw new InvariantViolation(String.format(messageFormat, arguments));
    }
  }

  /** Fails with {@code message} when {@code condition} is false. */
  public static void check(boolean condition, String message) {
    if (!condition) {
      throw new InvariantViolation(message);
    }
  }

  /** Thrown when an invariant does not hold: a bug, or data that is corrupt. */
  public static final class InvariantViolation extends IllegalStateException {
    public InvariantViolation(String message) {
      super(message);
    }
  }
}
