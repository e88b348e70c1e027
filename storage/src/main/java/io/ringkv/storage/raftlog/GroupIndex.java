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
  private static final long HOLE = -1;

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

  /**
   * Whether {@link #truncatedIndex} is known exactly: from a compaction mark, or because entry 1
   * was seen. False only in replay until a mark arrives for a group whose oldest records were
   * purged.
   */
  private boolean anchored;

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
    if (lastIndex == truncatedIndex && !anchored) {
      // A group first seen in replay (its older records purged, or a new group): the log is known
      // from here on, until a compaction mark says where it really starts.
      truncatedIndex = first - 1;
      lastIndex = first - 1;
      start = 0;
    }
    if (first <= truncatedIndex) {
      // Only in replay: the writer checks every append against the bounds first.
      Invariants.check(!anchored, "group %d: entries at %d below log %s", groupId, first, this);
      lowerOrigin(first - 1);
    }
    long previousLast = lastIndex;
    lastIndex = first - 1 + newTerms.length;
    ensureCapacity((int) (lastIndex - truncatedIndex));
    for (long index = previousLast + 1; index < first; index++) {
      // A gap (only in replay): entries written in purged segments; open checks none stays live.
      segments[slot(index)] = HOLE;
    }
    for (int i = 0; i < newTerms.length; i++) {
      int slot = slot(first + i);
      terms[slot] = newTerms[i];
      segments[slot] = segment;
      offsets[slot] = offset;
    }
  }

  /** Moves the start of an unanchored log down to {@code newTruncated}, with holes in between. */
  private void lowerOrigin(long newTruncated) {
    int added = (int) (truncatedIndex - newTruncated);
    int live = (int) (lastIndex - truncatedIndex);
    long[] newTerms = new long[Math.max(terms.length, added + live + INITIAL_CAPACITY_ENTRIES)];
    long[] newSegments = new long[newTerms.length];
    long[] newOffsets = new long[newTerms.length];
    System.arraycopy(terms, start, newTerms, added, live);
    System.arraycopy(segments, start, newSegments, added, live);
    System.arraycopy(offsets, start, newOffsets, added, live);
    Arrays.fill(newSegments, 0, added, HOLE);
    terms = newTerms;
    segments = newSegments;
    offsets = newOffsets;
    start = 0;
    truncatedIndex = newTruncated;
  }

  void truncateFrom(long fromIndex) {
    if (fromIndex <= truncatedIndex) {
      // Only in replay, below where the first surviving record put the start: the log really
      // ends lower; a compaction mark will say where it starts.
      Invariants.check(
          !anchored, "group %d: truncate at %d below log %s", groupId, fromIndex, this);
      lowerOrigin(fromIndex - 1);
    }
    lastIndex = Math.min(lastIndex, fromIndex - 1);
  }

  /**
   * Drops entries through {@code index}; a reset (or a mark at or past the end) empties the log. A
   * mark at or below the current compaction point changes nothing.
   */
  void compact(long index, long term, boolean reset, long segment) {
    if (!reset && !anchored && index < truncatedIndex) {
      // Replay: this mark, not the first surviving record, says where the log starts.
      lowerOrigin(index);
    }
    boolean wasAnchored = anchored;
    anchored = true;
    if (!reset && index <= truncatedIndex) {
      if (index == truncatedIndex && (!wasAnchored || term == truncatedTerm)) {
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

  /**
   * After replay: null if the log is whole, else what is wrong (a live entry whose record was
   * purged, or a start no compaction mark confirms).
   */
  String replayProblem() {
    if (!anchored && truncatedIndex > 0) {
      return "log starts at " + firstIndex() + " but no compaction mark says so";
    }
    for (long index = firstIndex(); index <= lastIndex; index++) {
      if (segments[slot(index)] == HOLE) {
        return "entry " + index + " of log " + this + " is in no segment";
      }
    }
    return null;
  }

  void setHardState(HardState next, long segment) {
    hardState = next;
    hardStateSegment = segment;
  }

  /**
   * The oldest segment holding a live entry, or {@link Long#MAX_VALUE} if the log is empty: the
   * first entry's, because segments never decrease with the index (an append drops every entry
   * after its last, so an entry is never older than one before it).
   */
  long oldestLiveEntrySegment() {
    return lastIndex > truncatedIndex ? segments[start] : NO_SEGMENT;
  }

  /**
   * Whether this group's compaction mark or hard state lives only in a segment before {@code
   * segment}.
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
    terms = Arrays.copyOfRange(terms, start, start + capacity);
    segments = Arrays.copyOfRange(segments, start, start + capacity);
    offsets = Arrays.copyOfRange(offsets, start, start + capacity);
    start = 0;
  }

  @Override
  public String toString() {
    return "[" + firstIndex() + ".." + lastIndex + ", truncated term " + truncatedTerm + "]";
  }
}
