package io.ringkv.jepsen.harness.client;

import io.ringkv.jepsen.history.OpType;
import java.util.Objects;

/**
 * How one client operation ended, in Jepsen's terms: {@code OK} with the value read (or written),
 * {@code FAIL} when the operation certainly did not take effect, {@code INFO} when it may have.
 * {@code harnessError} marks an answer that says the test itself cannot work (the server does not
 * implement the call): the runner stops and reports it rather than record a misleading history.
 */
public record Outcome(OpType type, Object value, String error, boolean harnessError) {
  public Outcome {
    Objects.requireNonNull(type, "type");
    if (type == OpType.INVOKE) {
      throw new IllegalArgumentException("an outcome is a completion, not an invocation");
    }
    if (type != OpType.OK && error == null) {
      throw new IllegalArgumentException("a failed or indefinite outcome says why");
    }
  }

  public static Outcome ok(Object value) {
    return new Outcome(OpType.OK, value, null, false);
  }

  public static Outcome fail(String error) {
    return new Outcome(OpType.FAIL, null, error, false);
  }

  public static Outcome info(String error) {
    return new Outcome(OpType.INFO, null, error, false);
  }

  /** The server cannot serve the test at all; recorded as {@code :info} and stops the run. */
  public static Outcome harnessError(String error) {
    return new Outcome(OpType.INFO, null, error, true);
  }
}
