package io.ringkv.storage;

import io.ringkv.raft.Invariants;

/**
 * The bounds of one group's log: entries {@code truncatedIndex + 1 .. lastIndex} are stored, and
 * {@code truncatedTerm} is the term at {@code truncatedIndex} (the compacted or snapshot position).
 */
record LogState(long truncatedIndex, long truncatedTerm, long lastIndex) {
  static final LogState EMPTY = new LogState(0, 0, 0);

  LogState {
    Invariants.check(
        truncatedIndex >= 0 && lastIndex >= truncatedIndex,
        "bad log bounds: truncated %d, last %d",
        truncatedIndex,
        lastIndex);
  }

  long firstIndex() {
    return truncatedIndex + 1;
  }
}
