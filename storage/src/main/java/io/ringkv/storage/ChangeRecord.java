package io.ringkv.storage;

import io.ringkv.raft.Invariants;

/**
 * One change event of a partition's changefeed.
 *
 * @param revision the log index of the entry that made the change
 * @param ordinal position among the changes of the same revision (a transaction makes several)
 * @param timestampMillis when the change was applied, used for retention by age: the physical part
 *     of the proposing leader's hybrid logical clock
 * @param key the user key
 * @param value the new value, or null for a delete
 * @param previous the value before the change, or null if the key was absent
 * @param hlcLogical the logical part of the proposing leader's hybrid logical clock (0 in records
 *     written before it was kept)
 */
public record ChangeRecord(
    long revision,
    int ordinal,
    long timestampMillis,
    byte[] key,
    StoredValue value,
    StoredValue previous,
    int hlcLogical) {
  public ChangeRecord {
    Invariants.check(hlcLogical >= 0, "negative HLC logical counter %d", hlcLogical);
    Invariants.check(revision >= 1 && ordinal >= 0, "bad change position %d/%d", revision, ordinal);
    Invariants.check(key != null, "change key must not be null");
    Invariants.check(value != null || previous != null, "a change must change something");
  }

  /** A record whose time has no logical part. */
  public ChangeRecord(
      long revision,
      int ordinal,
      long timestampMillis,
      byte[] key,
      StoredValue value,
      StoredValue previous) {
    this(revision, ordinal, timestampMillis, key, value, previous, 0);
  }

  public boolean isDelete() {
    return value == null;
  }
}
