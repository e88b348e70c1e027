package io.ringkv.jepsen.model;

/**
 * A sequential specification: an immutable state that an operation moves to the next state, or
 * rejects. Implementations are values ({@code equals} and {@code hashCode} over the state), so the
 * checker can remember which (linearized operations, state) pairs it has already explored.
 */
public interface Model {
  /**
   * The state after applying operation {@code f} with {@code value} (for a completed operation, the
   * value it returned), or {@code null} when the operation cannot happen in this state.
   *
   * @throws IllegalArgumentException when this model has no operation {@code f}, or {@code value}
   *     has the wrong shape; {@link #checkOperation} reports the same problems up front
   */
  Model step(Object f, Object value);

  /**
   * Rejects an operation this model cannot interpret, with a message for the user.
   *
   * @throws IllegalArgumentException when {@link #step} would not understand the operation
   */
  void checkOperation(Object f, Object value);

  /**
   * True when the operation never changes any state (a read). A crashed read-only operation
   * constrains nothing, so the checker may drop it.
   */
  boolean isReadOnly(Object f, Object value);

  /** A rough size of this state in bytes, for the checker's memory budget. */
  default long sizeEstimateBytes() {
    return 48;
  }
}
