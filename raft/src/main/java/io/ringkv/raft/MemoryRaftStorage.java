package io.ringkv.raft;

import java.util.ArrayList;
import java.util.List;

/**
 * An in-memory {@link RaftLogReader} with the write side an application needs: append (replacing a
 * conflicting suffix), hard state, snapshots and compaction. For tests, the simulation and
 * benchmarks: what it holds is exactly what a member "persisted".
 *
 * <p>Layout: entry {@code i} is at {@code entries.get(i - firstIndex())}; {@code snapshotIndex} and
 * {@code snapshotTerm} describe the compacted prefix (which the snapshot covers).
 */
public final class MemoryRaftStorage implements RaftLogReader {
  private HardState hardState = HardState.EMPTY;
  private Snapshot snapshot = Snapshot.EMPTY;
  private ConfState confState;
  private final ArrayList<Entry> entries = new ArrayList<>();
  private long snapshotIndex;
  private long snapshotTerm;

  /** An empty log with the given initial configuration. */
  public MemoryRaftStorage(ConfState confState) {
    this.confState = confState;
  }

  @Override
  public synchronized InitialState initialState() {
    return new InitialState(hardState, confState);
  }

  @Override
  public synchronized List<Entry> entries(long lowIndex, long highIndex, long maxSizeBytes) {
    if (lowIndex < firstIndex()) {
      throw new LogCompactedException(lowIndex, firstIndex());
    }
    if (highIndex > lastIndex() + 1) {
      throw new LogUnavailableException(highIndex - 1, lastIndex());
    }
    List<Entry> result = new ArrayList<>();
    long size = 0;
    for (long index = lowIndex; index < highIndex; index++) {
      Entry entry = entries.get((int) (index - firstIndex()));
      if (!result.isEmpty() && size + entry.sizeBytes() > maxSizeBytes) {
        break;
      }
      size += entry.sizeBytes();
      result.add(entry);
    }
    return result;
  }

  @Override
  public synchronized long term(long index) {
    if (index == snapshotIndex) {
      return snapshotTerm;
    }
    if (index < snapshotIndex) {
      throw new LogCompactedException(index, firstIndex());
    }
    if (index > lastIndex()) {
      throw new LogUnavailableException(index, lastIndex());
    }
    return entries.get((int) (index - firstIndex())).term();
  }

  @Override
  public synchronized long firstIndex() {
    return snapshotIndex + 1;
  }

  @Override
  public synchronized long lastIndex() {
    return snapshotIndex + entries.size();
  }

  @Override
  public synchronized Snapshot snapshot() {
    return snapshot;
  }

  public synchronized HardState hardState() {
    return hardState;
  }

  public synchronized void setHardState(HardState newHardState) {
    Invariants.check(newHardState.term() >= hardState.term(), "hard state term went backwards");
    hardState = newHardState;
  }

  /** Records the configuration the application applied (kept for restarts). */
  public synchronized void setConfState(ConfState newConfState) {
    confState = newConfState;
  }

  /**
   * Appends entries; an entry at an index already present replaces it and everything after it.
   * Entries must not leave a gap and must not reach into the compacted part.
   */
  public synchronized void append(List<Entry> newEntries) {
    if (newEntries.isEmpty()) {
      return;
    }
    long first = newEntries.get(0).index();
    Invariants.check(first > snapshotIndex, "append at %d into the compacted log", first);
    Invariants.check(
        first <= lastIndex() + 1, "append at %d leaves a gap after %d", first, lastIndex());
    for (int i = 1; i < newEntries.size(); i++) {
      Invariants.check(
          newEntries.get(i).index() == first + i, "appended entries are not contiguous");
    }
    int keep = (int) (first - firstIndex());
    entries.subList(keep, entries.size()).clear();
    entries.addAll(newEntries);
  }

  /** Installs a snapshot received from the leader: the whole log is replaced by it. */
  public synchronized void applySnapshot(Snapshot newSnapshot) {
    SnapshotMetadata metadata = newSnapshot.metadata();
    Invariants.check(
        metadata.index() >= snapshotIndex,
        "snapshot %d older than %d",
        metadata.index(),
        snapshotIndex);
    snapshot = newSnapshot;
    snapshotIndex = metadata.index();
    snapshotTerm = metadata.term();
    confState = metadata.confState();
    entries.clear();
  }

  /**
   * Records a snapshot of the application's state at {@code index} (which must be in the log), for
   * sending to lagging followers; the log is not compacted by this.
   */
  public synchronized Snapshot createSnapshot(
      long index, ConfState snapshotConfState, byte[] data) {
    Invariants.check(
        index > snapshotIndex && index <= lastIndex(),
        "snapshot index %d out of [%d,%d]",
        index,
        snapshotIndex + 1,
        lastIndex());
    snapshot = new Snapshot(new SnapshotMetadata(index, term(index), snapshotConfState), data);
    confState = snapshotConfState;
    return snapshot;
  }

  /**
   * Discards entries before {@code index}. Only indexes covered by the current snapshot may be
   * compacted, so a lagging follower can always be served.
   */
  public synchronized void compact(long index) {
    Invariants.check(
        index <= snapshot.metadata().index() + 1,
        "compact to %d beyond the snapshot at %d",
        index,
        snapshot.metadata().index());
    if (index <= firstIndex()) {
      return;
    }
    long newSnapshotIndex = index - 1;
    long newSnapshotTerm = term(newSnapshotIndex);
    entries.subList(0, (int) (index - firstIndex())).clear();
    snapshotIndex = newSnapshotIndex;
    snapshotTerm = newSnapshotTerm;
  }
}
