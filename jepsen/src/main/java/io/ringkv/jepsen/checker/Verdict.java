package io.ringkv.jepsen.checker;

/** The outcome of a check. */
public enum Verdict {
  /** A linearization exists (for every key, when checked per key). */
  VALID,
  /** No linearization exists: the history proves the system wrong. */
  INVALID,
  /** The budget ran out before the search could decide; says nothing about the system. */
  UNKNOWN;

  /** The verdict of two independent parts checked together: invalid wins, then unknown. */
  public Verdict and(Verdict other) {
    if (this == INVALID || other == INVALID) {
      return INVALID;
    }
    return this == UNKNOWN || other == UNKNOWN ? UNKNOWN : VALID;
  }

  /** The name printed by the command line, e.g. {@code valid}. */
  public String label() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
