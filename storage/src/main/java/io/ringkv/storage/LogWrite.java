package io.ringkv.storage;

import io.ringkv.raft.ConfState;
import io.ringkv.raft.Entry;
import io.ringkv.raft.HardState;
import io.ringkv.raft.Invariants;
import io.ringkv.raft.SnapshotMetadata;
import java.util.List;

/**
 * What one group persists from one Raft Ready: optionally a received snapshot (which resets the log
 * to start after it), entries to append (replacing any conflicting suffix), and the hard state and
 * membership configuration. Null parts are left unchanged.
 *
 * @param groupId the Raft group
 * @param snapshot a snapshot the log now starts after, or null
 * @param entries contiguous entries to append, possibly empty
 * @param hardState the hard state to save, or null
 * @param confState the membership configuration to save, or null
 */
public record LogWrite(
    long groupId,
    SnapshotMetadata snapshot,
    List<Entry> entries,
    HardState hardState,
    ConfState confState) {

  public LogWrite {
    Keys.checkGroup(groupId);
    entries = List.copyOf(entries);
    for (int i = 1; i < entries.size(); i++) {
      Entry previous = entries.get(i - 1);
      Entry entry = entries.get(i);
      Invariants.check(
          entry.index() == previous.index() + 1,
          "group %d: entries not contiguous (%d after %d)",
          groupId,
          entry.index(),
          previous.index());
      Invariants.check(
          entry.term() >= previous.term(),
          "group %d: term goes back at index %d",
          groupId,
          entry.index());
    }
    if (snapshot != null && !entries.isEmpty()) {
      Invariants.check(
          entries.getFirst().index() == snapshot.index() + 1,
          "group %d: entries must follow the snapshot at %d",
          groupId,
          snapshot.index());
    }
  }

  /** Entries and a hard state (either may be empty/null). */
  public static LogWrite of(long groupId, List<Entry> entries, HardState hardState) {
    return new LogWrite(groupId, null, entries, hardState, null);
  }

  /** Payload bytes of the entries, as counted against {@code batchSizeBytesMax}. */
  public long entriesSizeBytes() {
    long total = 0;
    for (Entry entry : entries) {
      total += entry.sizeBytes();
    }
    return total;
  }
}
