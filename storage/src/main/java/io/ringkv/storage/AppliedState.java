package io.ringkv.storage;

import io.ringkv.raft.ConfState;
import io.ringkv.raft.Invariants;

/**
 * How far a partition's state machine has applied its log.
 *
 * @param index the last applied log index (0 for none)
 * @param term the term of that entry
 * @param confState the membership configuration as of {@code index}
 */
public record AppliedState(long index, long term, ConfState confState) {
  public static final AppliedState EMPTY = new AppliedState(0, 0, ConfState.EMPTY);

  public AppliedState {
    Invariants.check(index >= 0 && term >= 0, "negative applied index/term %d/%d", index, term);
    Invariants.check(confState != null, "applied conf state must not be null");
  }
}
