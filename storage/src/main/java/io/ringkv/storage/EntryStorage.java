package io.ringkv.storage;

import io.ringkv.raft.Entry;
import io.ringkv.raft.HardState;
import io.ringkv.raft.SnapshotMetadata;
import java.util.List;
import org.rocksdb.RocksDBException;

/**
 * Where one group's log entries, compaction point and hard state are kept, below {@link
 * RaftLogStore} (which keeps bounds, cache and the records that stay in RocksDB whatever the
 * engine). One implementation per {@link RaftLogEngine}.
 */
interface EntryStorage {
  /** The bounds found at open, given the snapshot record (null if none); may repair the log. */
  LogState loadBounds(SnapshotMetadata snapshot);

  /** The hard state found at open, consistent with {@link #loadBounds}; null if none. */
  HardState loadHardState();

  /**
   * The term of stored entry {@code index} (inside the bounds, above the truncation point), or -1
   * if it is not there (a compaction raced with the read, or a hole: the caller tells them apart).
   */
  long term(long index);

  /**
   * Reads entries {@code [next, end)} in order into {@code visitor} until it refuses one or an
   * entry is not there; returns the index after the last one taken.
   */
  long read(long next, long end, EntryVisitor visitor);

  /** Receives entries read in order; returns false to stop (the entry is then not taken). */
  interface EntryVisitor {
    boolean offer(Entry entry);
  }

  /** Drops entries through {@code after.truncatedIndex()}; not necessarily durable at once. */
  void compact(LogState before, LogState after);

  /** Stages a log reset to a received snapshot ({@code after} is its position). */
  void stageReset(LogCommit commit, LogState after) throws RocksDBException;

  /** Stages {@code entries}, replacing the log from the first one on ({@code oldLast}: the end). */
  void stageAppend(LogCommit commit, List<Entry> entries, long oldLast) throws RocksDBException;

  /** Stages the hard state. */
  void stageHardState(LogCommit commit, HardState hardState) throws RocksDBException;
}
