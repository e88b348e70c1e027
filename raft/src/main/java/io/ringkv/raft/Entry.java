package io.ringkv.raft;

import java.util.Arrays;

/**
 * One Raft log entry. The data array is owned by the entry once constructed: nobody mutates it.
 *
 * @param term the leader term in which the entry was proposed, at least 1
 * @param index the entry's position in the log, at least 1
 * @param type whether the data is an application command or a membership change
 * @param data the payload (never null; empty for the no-op a new leader appends)
 */
public record Entry(long term, long index, EntryType type, byte[] data) {
  /** Fixed per-entry overhead used when sizing batches by bytes: term, index and type. */
  public static final int HEADER_SIZE_BYTES = 8 + 8 + 1;

  public Entry {
    Invariants.check(term >= 1, "entry term must be >= 1, got %d", term);
    Invariants.check(index >= 1, "entry index must be >= 1, got %d", index);
    Invariants.check(type != null, "entry type must not be null");
    Invariants.check(data != null, "entry data must not be null");
  }

  /** Bytes this entry counts for in byte-bounded batches and limits. */
  public long sizeBytes() {
    return HEADER_SIZE_BYTES + (long) data.length;
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof Entry that
        && term == that.term
        && index == that.index
        && type == that.type
        && Arrays.equals(data, that.data);
  }

  @Override
  public int hashCode() {
    return (Long.hashCode(term) * 31 + Long.hashCode(index)) * 31 + Arrays.hashCode(data);
  }

  @Override
  public String toString() {
    return "Entry{term="
        + term
        + ", index="
        + index
        + ", type="
        + type
        + ", bytes="
        + data.length
        + "}";
  }
}
