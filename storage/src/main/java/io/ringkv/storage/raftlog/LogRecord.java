package io.ringkv.storage.raftlog;

import io.ringkv.raft.Entry;
import io.ringkv.raft.HardState;
import io.ringkv.raft.Invariants;
import java.util.List;

/**
 * One record of the segmented Raft log: what a writer asks {@link SegmentedLog} to make durable, in
 * the order given. The on-disk form is {@link RecordCodec}'s.
 */
public sealed interface LogRecord {
  long groupId();

  /** Entries that replace the group's log from the first entry's index on. */
  record Entries(long groupId, List<Entry> entries) implements LogRecord {
    public Entries {
      entries = List.copyOf(entries);
      Invariants.check(!entries.isEmpty(), "group %d: an entries record needs entries", groupId);
    }

    public long firstIndex() {
      return entries.getFirst().index();
    }
  }

  /** Drops the group's entries from {@code fromIndex} on. */
  record Truncate(long groupId, long fromIndex) implements LogRecord {}

  /**
   * Drops the group's entries up to and including {@code index}, whose term was {@code term}. With
   * {@code reset} (a snapshot installed) every entry goes, whatever its index.
   */
  record CompactMark(long groupId, long index, long term, boolean reset) implements LogRecord {}

  /** The group's hard state as of this record. */
  record HardStateMark(long groupId, HardState hardState) implements LogRecord {}

  /** The group was destroyed: every earlier record of it is dead. */
  record Destroy(long groupId) implements LogRecord {}
}
