package io.ringkv.raft;

import java.util.List;

/**
 * The read-only view of one group's persisted log that the Raft core consumes. The application (the
 * node, through the storage engine) writes the log; the core only reads it, as in etcd's raft.
 *
 * <p>Index conventions: the log holds entries {@code firstIndex() .. lastIndex()}; everything
 * before {@code firstIndex()} has been compacted into the snapshot, whose index is {@code
 * firstIndex() - 1}. An empty log has {@code lastIndex() == firstIndex() - 1}.
 */
public interface RaftLogReader {

  /** The persisted hard state and membership configuration, read once when a core is created. */
  InitialState initialState();

  /**
   * Entries in {@code [lowIndex, highIndex)}, stopping before the total size passes {@code
   * maxSizeBytes} but always returning at least one entry when the range is not empty.
   *
   * @throws LogCompactedException if {@code lowIndex < firstIndex()}
   * @throws LogUnavailableException if {@code highIndex > lastIndex() + 1}
   */
  List<Entry> entries(long lowIndex, long highIndex, long maxSizeBytes);

  /**
   * The term of the entry at {@code index}, for {@code index} in {@code [firstIndex() - 1,
   * lastIndex()]} (the term at {@code firstIndex() - 1} is the snapshot's).
   *
   * @throws LogCompactedException if {@code index < firstIndex() - 1}
   * @throws LogUnavailableException if {@code index > lastIndex()}
   */
  long term(long index);

  /** The index of the first entry still in the log (1 for a log never compacted). */
  long firstIndex();

  /** The index of the last entry in the log, or {@code firstIndex() - 1} if there is none. */
  long lastIndex();

  /** The most recent snapshot (possibly {@link Snapshot#EMPTY}). */
  Snapshot snapshot();

  /** What a core starts from. */
  record InitialState(HardState hardState, ConfState confState) {}
}
