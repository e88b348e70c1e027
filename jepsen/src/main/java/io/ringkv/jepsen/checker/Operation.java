package io.ringkv.jepsen.checker;

import io.ringkv.jepsen.history.Edn;
import io.ringkv.jepsen.history.Op;
import java.util.Objects;

/**
 * A client operation after pairing its invoke with its completion. {@code value} is what the
 * checker applies to the model: the completion's value when it completed {@code :ok}, the invoke's
 * value when it crashed. {@code invokePosition} and {@code completePosition} are positions in the
 * history ({@link #OPEN} for an operation that crashed or never completed: its return lies at
 * +infinity).
 */
public record Operation(
    Object process,
    Object f,
    Object value,
    int invokePosition,
    int completePosition,
    Op invoke,
    Op completion) {
  /** The completion position of an operation whose outcome is unknown. */
  public static final int OPEN = Integer.MAX_VALUE;

  public Operation {
    Objects.requireNonNull(invoke, "invoke");
    if (completePosition != OPEN && completePosition <= invokePosition) {
      throw new IllegalArgumentException("an operation completes after its invoke");
    }
  }

  /** True when the outcome is unknown ({@code :info} or no completion at all). */
  public boolean crashed() {
    return completePosition == OPEN;
  }

  /** The same operation with another value (used to strip independent keys). */
  public Operation withValue(Object newValue) {
    return new Operation(
        process, f, newValue, invokePosition, completePosition, invoke, completion);
  }

  /** One line: process, f, value, and where it sits in the history. */
  @Override
  public String toString() {
    String outcome = crashed() ? "crashed" : "ok";
    String end = crashed() ? "open" : "index " + completion.index();
    return "process "
        + Edn.write(process)
        + " "
        + Edn.write(f)
        + " "
        + Edn.write(value)
        + " ("
        + outcome
        + ", index "
        + invoke.index()
        + " .. "
        + end
        + ")";
  }
}
