package io.ringkv.raft;

import java.util.ArrayList;
import java.util.List;

/**
 * The core's view of the log: persisted entries read through {@link RaftLogReader} plus the {@link
 * UnstableLog} not yet persisted.
 *
 * <p>Invariants: {@code applied <= committed <= lastIndex()}, {@code applied <= applyingIndex};
 * committed entries are never truncated.
 */
final class RaftLog {
  final RaftLogReader storage;
  final UnstableLog unstable;
  long committed;
  long applied;

  /**
   * Highest index handed to the application to apply, in a Ready not yet advanced; equal to {@code
   * applied} when none is outstanding.
   */
  long applyingIndex;

  private final long maxApplyingSizeBytes;

  RaftLog(RaftLogReader storage, long maxApplyingSizeBytes) {
    this.storage = storage;
    this.maxApplyingSizeBytes = maxApplyingSizeBytes;
    long firstIndex = storage.firstIndex();
    this.unstable = new UnstableLog(storage.lastIndex() + 1);
    this.committed = firstIndex - 1;
    this.applied = firstIndex - 1;
    this.applyingIndex = applied;
  }

  long firstIndex() {
    long index = unstable.maybeFirstIndex();
    return index != -1 ? index : storage.firstIndex();
  }

  long lastIndex() {
    long index = unstable.maybeLastIndex();
    return index != -1 ? index : storage.lastIndex();
  }

  /** The last index the application has persisted (and that this log still agrees with). */
  long persistedLastIndex() {
    if (unstable.snapshot != null) {
      return 0;
    }
    return Math.min(storage.lastIndex(), unstable.offset - 1);
  }

  long lastTerm() {
    return term(lastIndex());
  }

  /**
   * The term at {@code index}; 0 past the last index.
   *
   * @throws LogCompactedException if the index was compacted
   */
  long term(long index) {
    long known = unstable.maybeTerm(index);
    if (known != -1) {
      return known;
    }
    if (index > lastIndex()) {
      return 0;
    }
    long dummyIndex = firstIndex() - 1;
    if (index < dummyIndex) {
      throw new LogCompactedException(index, dummyIndex + 1);
    }
    return storage.term(index);
  }

  /** The term at {@code index}, or 0 if it is compacted or past the end. */
  long termOrZero(long index) {
    try {
      return term(index);
    } catch (LogCompactedException | LogUnavailableException e) {
      return 0;
    }
  }

  boolean matchTerm(long index, long term) {
    return termOrZero(index) == term && (term != 0 || index == 0);
  }

  /** Whether a candidate log ending at ({@code index}, {@code term}) is at least as current. */
  boolean isUpToDate(long index, long term) {
    long lastTerm = lastTerm();
    return term > lastTerm || (term == lastTerm && index >= lastIndex());
  }

  /**
   * Appends entries that follow ({@code index}, {@code logTerm}) if the log matches there. Returns
   * the last index of the new entries, or -1 on mismatch.
   */
  long maybeAppend(long index, long logTerm, long leaderCommit, List<Entry> entries) {
    if (!matchTerm(index, logTerm)) {
      return -1;
    }
    long lastNewIndex = index + entries.size();
    long conflictIndex = findConflict(entries);
    if (conflictIndex != 0) {
      Invariants.check(
          conflictIndex > committed,
          "entry %d conflicts with committed entry (committed %d)",
          conflictIndex,
          committed);
      append(entries.subList((int) (conflictIndex - (index + 1)), entries.size()));
    }
    commitTo(Math.min(leaderCommit, lastNewIndex));
    return lastNewIndex;
  }

  /** The index of the first entry that is missing or differs in term, 0 if none. */
  private long findConflict(List<Entry> entries) {
    for (Entry entry : entries) {
      if (!matchTerm(entry.index(), entry.term())) {
        return entry.index();
      }
    }
    return 0;
  }

  /**
   * The highest index at or below {@code index} whose term is at most {@code term}: no entry above
   * it can match a log whose entry at {@code index} has {@code term} (fast backtracking).
   */
  long findConflictByTerm(long index, long term) {
    for (long candidate = index; candidate > 0; candidate--) {
      long candidateTerm;
      try {
        candidateTerm = term(candidate);
      } catch (LogCompactedException e) {
        return candidate;
      }
      if (candidateTerm <= term) {
        return candidate;
      }
    }
    return 0;
  }

  void append(List<Entry> entries) {
    if (entries.isEmpty()) {
      return;
    }
    long after = entries.get(0).index() - 1;
    Invariants.check(after >= committed, "append after %d is below committed %d", after, committed);
    Invariants.check(after <= lastIndex(), "append after %d leaves a gap", after);
    unstable.truncateAndAppend(entries);
  }

  List<Entry> unstableEntries() {
    return List.copyOf(unstable.entries);
  }

  boolean hasNextCommittedEntries() {
    return Math.max(applied + 1, firstIndex()) <= committed;
  }

  List<Entry> nextCommittedEntries() {
    long lowIndex = Math.max(applied + 1, firstIndex());
    if (lowIndex > committed) {
      return List.of();
    }
    return slice(lowIndex, committed + 1, maxApplyingSizeBytes);
  }

  Snapshot snapshot() {
    return unstable.snapshot != null ? unstable.snapshot : storage.snapshot();
  }

  /** Entries from {@code lowIndex} to the end, at most {@code maxSizeBytes} (at least one). */
  List<Entry> entriesFrom(long lowIndex, long maxSizeBytes) {
    long last = lastIndex();
    if (lowIndex > last) {
      return List.of();
    }
    return slice(lowIndex, last + 1, maxSizeBytes);
  }

  List<Entry> slice(long lowIndex, long highIndex, long maxSizeBytes) {
    if (lowIndex < firstIndex()) {
      throw new LogCompactedException(lowIndex, firstIndex());
    }
    Invariants.check(highIndex <= lastIndex() + 1, "slice end %d past log end", highIndex);
    List<Entry> result = new ArrayList<>();
    long size = 0;
    if (lowIndex < unstable.offset) {
      List<Entry> stored =
          storage.entries(lowIndex, Math.min(highIndex, unstable.offset), maxSizeBytes);
      result.addAll(stored);
      for (Entry entry : stored) {
        size += entry.sizeBytes();
      }
      if (stored.size() < Math.min(highIndex, unstable.offset) - lowIndex) {
        return result; // the size limit cut it short
      }
    }
    if (highIndex > unstable.offset) {
      for (Entry entry : unstable.slice(Math.max(lowIndex, unstable.offset), highIndex)) {
        if (!result.isEmpty() && size + entry.sizeBytes() > maxSizeBytes) {
          break;
        }
        size += entry.sizeBytes();
        result.add(entry);
      }
    }
    return result;
  }

  void commitTo(long index) {
    if (committed < index) {
      Invariants.check(
          index <= lastIndex(), "commit %d is past the last index %d", index, lastIndex());
      committed = index;
    }
  }

  /**
   * Commits up to {@code index} if the entry there is of {@code term} (only entries of the leader's
   * own term are committed by counting replicas).
   */
  boolean maybeCommit(long index, long term, boolean ignoreTerm) {
    if (index > committed && (ignoreTerm || termOrZero(index) == term)) {
      commitTo(index);
      return true;
    }
    return false;
  }

  void appliedTo(long index) {
    if (index == 0) {
      return;
    }
    Invariants.check(
        committed >= index && index >= applied,
        "applied %d out of range [%d,%d]",
        index,
        applied,
        committed);
    applied = index;
    applyingIndex = Math.max(applyingIndex, index);
  }

  /** Committed entries up to {@code index} were handed out to be applied. */
  void applyingTo(long index) {
    Invariants.check(
        index <= committed && index >= applyingIndex,
        "applying %d out of range [%d,%d]",
        index,
        applyingIndex,
        committed);
    applyingIndex = index;
  }

  /** Whether committed entries were handed out to the application and not yet applied. */
  boolean hasEntriesBeingApplied() {
    return applyingIndex > applied;
  }

  void stableTo(long index, long term) {
    unstable.stableTo(index, term);
  }

  void stableSnapshotTo(long index) {
    unstable.stableSnapshotTo(index);
  }

  void restore(Snapshot snapshot) {
    committed = snapshot.metadata().index();
    unstable.restore(snapshot);
  }
}
