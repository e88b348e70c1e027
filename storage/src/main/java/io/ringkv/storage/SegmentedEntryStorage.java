package io.ringkv.storage;

import io.ringkv.raft.Entry;
import io.ringkv.raft.HardState;
import io.ringkv.raft.Invariants;
import io.ringkv.raft.LogCompactedException;
import io.ringkv.raft.LogUnavailableException;
import io.ringkv.raft.SnapshotMetadata;
import io.ringkv.storage.raftlog.LogRecord;
import io.ringkv.storage.raftlog.LogRecord.CompactMark;
import io.ringkv.storage.raftlog.LogRecord.Entries;
import io.ringkv.storage.raftlog.LogRecord.HardStateMark;
import io.ringkv.storage.raftlog.SegmentedLog;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A group's entries, compaction point and hard state in the node's {@link SegmentedLog}: one
 * Ready's entries and hard state are records of one fsynced batch, so neither is durable without
 * the other. A hard state whose only change is the commit index goes in a batch without an fsync,
 * durable with the next one.
 *
 * <p>The snapshot record stays in RocksDB and is written (durably) before the log is reset or
 * compacted to it, so at open the log may lag behind it, never lead: a crash between a snapshot
 * install's two writes, or between saving a snapshot record and its asynchronous compaction mark.
 * {@link #loadBounds} finishes that step (compacts when the log holds the snapshot's entry with its
 * term, else resets the log to the snapshot) and lifts the hard state to the snapshot (its entries
 * were committed; a term only grows), so the core never sees a commit index outside its log.
 */
final class SegmentedEntryStorage implements EntryStorage {
  private static final Logger log = LoggerFactory.getLogger(SegmentedEntryStorage.class);

  /** Entries read from the log per call while a reader still takes more. */
  static final int READ_CHUNK_ENTRIES = 64;

  private final SegmentedLog segmented;
  private final long groupId;
  private HardState loadedHardState;

  SegmentedEntryStorage(SegmentedLog segmented, long groupId) {
    this.segmented = segmented;
    this.groupId = groupId;
  }

  @Override
  public LogState loadBounds(SnapshotMetadata snapshot) {
    long truncated = segmented.firstIndex(groupId) - 1;
    long last = segmented.lastIndex(groupId);
    LogState bounds =
        new LogState(truncated, truncated == 0 ? 0 : segmented.term(groupId, truncated), last);
    List<LogRecord> repairs = new ArrayList<>();
    if (snapshot != null && snapshot.index() > truncated) {
      long index = snapshot.index();
      boolean holdsIt = index <= last && segmented.term(groupId, index) == snapshot.term();
      repairs.add(new CompactMark(groupId, index, snapshot.term(), !holdsIt));
      bounds = new LogState(index, snapshot.term(), holdsIt ? last : index);
      log.warn(
          "group {}: the Raft log ({}..{}) lags its snapshot record at {} (a crash between the"
              + " two writes); it is {} there",
          groupId,
          truncated + 1,
          last,
          index,
          holdsIt ? "compacted" : "reset");
    }
    HardState stored = segmented.hardState(groupId);
    HardState lifted = liftedTo(stored, bounds);
    if (!lifted.equals(stored)) {
      repairs.add(new HardStateMark(groupId, lifted));
    }
    Invariants.check(
        lifted.commit() <= bounds.lastIndex(),
        "group %d: the Raft log ends at %d but its hard state commits %d: acknowledged entries"
            + " are missing",
        groupId,
        bounds.lastIndex(),
        lifted.commit());
    if (!repairs.isEmpty()) {
      segmented.write(repairs);
    }
    loadedHardState = lifted.equals(HardState.EMPTY) ? null : lifted;
    return bounds;
  }

  /** {@code stored} with commit and term at least those of the log's truncation point. */
  static HardState liftedTo(HardState stored, LogState bounds) {
    if (bounds.truncatedIndex() == 0) {
      return stored;
    }
    boolean newTerm = bounds.truncatedTerm() > stored.term();
    return new HardState(
        newTerm ? bounds.truncatedTerm() : stored.term(),
        newTerm ? 0 : stored.vote(),
        Math.max(stored.commit(), bounds.truncatedIndex()));
  }

  @Override
  public HardState loadHardState() {
    return loadedHardState;
  }

  @Override
  public long term(long index) {
    try {
      return segmented.term(groupId, index);
    } catch (LogCompactedException | LogUnavailableException e) {
      return -1;
    }
  }

  @Override
  public long read(long next, long end, EntryVisitor visitor) {
    while (next < end) {
      List<Entry> chunk;
      try {
        chunk =
            segmented.entries(
                groupId, next, Math.min(end, next + READ_CHUNK_ENTRIES), Long.MAX_VALUE);
      } catch (LogCompactedException | LogUnavailableException e) {
        return next;
      }
      for (Entry entry : chunk) {
        if (!visitor.offer(entry)) {
          return next;
        }
        next++;
      }
    }
    return next;
  }

  /**
   * A compaction mark queued for the log's writer, not awaited: losing it in a crash only brings
   * entries back (and {@link #loadBounds} redoes it from the snapshot record). Queued behind any
   * destroy of the group, never after one, so it cannot touch a group re-created with the same id.
   * The node's callers save the snapshot record first with a synced RocksDB write, which also makes
   * the applied data through this index durable: the log never drops entries whose effects could
   * still be lost.
   */
  @Override
  public void compact(LogState before, LogState after) {
    segmented
        .submit(
            List.of(new CompactMark(groupId, after.truncatedIndex(), after.truncatedTerm(), false)))
        .whenComplete((ignored, error) -> {
          if (error != null) {
            log.warn("group {}: compaction mark through {} not written", groupId, after, error);
          }
        });
  }

  @Override
  public void stageReset(LogCommit commit, LogState after) {
    commit.records.add(
        new CompactMark(groupId, after.truncatedIndex(), after.truncatedTerm(), true));
  }

  @Override
  public void stageAppend(LogCommit commit, List<Entry> entries, long oldLast) {
    // An entries record replaces the log from its first index on: no truncation record needed.
    commit.records.add(new Entries(groupId, entries));
  }

  @Override
  public void stageHardState(LogCommit commit, HardState hardState) {
    commit.records.add(new HardStateMark(groupId, hardState));
  }
}
