package io.ringkv.storage.raftlog;

import io.ringkv.raft.HardState;
import io.ringkv.raft.Invariants;
import java.util.Arrays;

/**
 * Where one group's live entries lie in the segments (index to segment and record offset), with
 * their terms, the compaction point and the hard state. Built by replaying records in stream order
 * at open, then kept up to date by the writer after each durable batch; the same methods serve
 * both, so recovery and normal operation cannot disagree. Not thread-safe: the owning {@link
 * SegmentedLog} guards it.
 */
final class GroupIndex {
  private static final int INITIAL_CAPACITY_ENTRIES = 16;
  private static final long NO_SEGMENT = Long.MAX_VALUE;

  private final long groupId;
  private long truncatedIndex;
  private long truncatedTerm;
  private long lastIndex;

  /** Arrays slot {@code start + (index - firstIndex())} holds entry {@code index}. */
  private int start;

  private long[] terms = new long[INITIAL_CAPACITY_ENTRIES];
  private long[] segments = new long[INITIAL_CAPACITY_ENTRIES];
  private long[] offsets = new long[INITIAL_CAPACITY_ENTRIES];
  private HardState hardState = HardState.EMPTY;
  private long hardStateSegment = NO_SEGMENT;
  private long markSegment = NO_SEGMENT;

  GroupIndex(long groupId) {
    this.groupId = groupId;
  }

  long groupId() {
    return groupId;
  }

  long firstIndex() {
    return truncatedIndex + 1;
  }

  long lastIndex() {
    return lastIndex;
  }

  long truncatedIndex() {
    return truncatedIndex;
  }

  long truncatedTerm() {
    return truncatedTerm;
  }

  HardState hardState() {
    return hardState;
  }

  boolean contains(long index) {
    return index > truncatedIndex && index <= lastIndex;
  }

  long term(long index) {
    if (index == truncatedIndex) {
      return truncatedTerm;
    }
    Invariants.check(contains(index), "group %d: term of %d outside %s", groupId, index, this);
    return terms[slot(index)];
  }

  long segment(long index) {
    return segments[slot(index)];
  }

  long offset(long index) {
    return offsets[slot(index)];
  }

  private int slot(long index) {
    return start + (int) (index - firstIndex());
  }

  /**
   * Entries {@code first..first+terms.length-1} now live in the record at {@code offset} of {@code
   * segment}, replacing any suffix from {@code first} on. The first entries record of a group not
   * seen before (its older records purged) sets where the log starts.
   */
  void append(long first, long[] newTerms, long segment, long offset) {
    if (first <= truncatedIndex || first > lastIndex + 1) {
      // Only in replay, where this group's older records were purged (the writer checks every
      // append against the bounds first): the log is known from here on. A compaction mark
      // rewritten at purge supplies the term below; open checks that one did.
      truncatedIndex = first - 1;
      truncatedTerm = 0;
      lastIndex = first - 1;
      start = 0;
    }
    lastIndex = first - 1 + newTerms.length;
    ensureCapacity((int) (lastIndex - truncatedIndex));
    for (int i = 0; i < newTerms.length; i++) {
      int slot = slot(first + i);
      terms[slot] = newTerms[i];
      segments[slot] = segment;
      offsets[slot] = offset;
    }
  }

  void truncateFrom(long fromIndex) {
    // Below the compaction point only in replay after a purge (see append): nothing left to drop.
    lastIndex = Math.max(truncatedIndex, Math.min(lastIndex, fromIndex - 1));
  }

  /**
   * Drops entries through {@code index}; a reset (or a mark at or past the end) empties the log. A
   * mark at or below the current compaction point changes nothing.
   */
  void compact(long index, long term, boolean reset, long segment) {
    if (!reset && index <= truncatedIndex) {
      if (index == truncatedIndex && term != 0) {
        // The same point again (rewritten before a purge): this copy is now the one to keep.
        truncatedTerm = term;
        markSegment = segment;
      }
      return;
    }
    if (reset || index >= lastIndex) {
      start = 0;
      lastIndex = index;
    } else {
      start = slot(index + 1);
    }
    truncatedIndex = index;
    truncatedTerm = term;
    markSegment = segment;
    if (start > terms.length / 2) {
      int live = (int) (lastIndex - truncatedIndex);
      System.arraycopy(terms, start, terms, 0, live);
      System.arraycopy(segments, start, segments, 0, live);
      System.arraycopy(offsets, start, offsets, 0, live);
      start = 0;
    }
  }

  void setHardState(HardState next, long segment) {
    hardState = next;
    hardStateSegment = segment;
  }

  /** The oldest segment holding a live entry, or {@link Long#MAX_VALUE} if the log is empty. */
  long firstLiveEntrySegment() {
    return lastIndex > truncatedIndex ? segments[start] : NO_SEGMENT;
  }

  /**
   * Whether this group's compaction mark or hard state lives only in a segment before {@code s}.
   */
  boolean hasStateBefore(long segment) {
    return markSegment < segment || hardStateSegment < segment;
  }

  boolean hasState() {
    return truncatedIndex > 0 || !hardState.equals(HardState.EMPTY);
  }

  private void ensureCapacity(int liveEntries) {
    if (start + liveEntries <= terms.length) {
      return;
    }
    int capacity = Math.max(terms.length * 2, liveEntries + INITIAL_CAPACITY_ENTRIES);
    int used = Math.min(terms.length - start, liveEntries);
    terms = Arrays.copyOfRange(terms, start, start + capacity);
    segments = Arrays.copyOfRange(segments, start, start + capacity);
    offsets = Arrays.copyOfRange(offsets, start, start + capacity);
    Invariants.check(used >= 0, "group %d: negative used slots", groupId);
    start = 0;
  }

  @Override
  public String toString() {
    return "[" + firstIndex() + ".." + lastIndex + ", truncated term " + truncatedTerm + "]";
  }
}
