package io.ringkv.raft;

/**
 * What a snapshot covers.
 *
 * @param index the last log index the snapshot includes
 * @param term the term of the entry at {@code index}
 * @param confState the membership configuration as of {@code index}
 */
public record SnapshotMetadata(long index, long term, ConfState confState) {
  public static final SnapshotMetadata EMPTY = new SnapshotMetadata(0, 0, ConfState.EMPTY);

  public SnapshotMetadata {
    Invariants.check(index >= 0 && term >= 0, "negative snapshot index/term %d/%d", index, term);
    Invariants.check(confState != null, "snapshot conf state must not be null");
  }
}
