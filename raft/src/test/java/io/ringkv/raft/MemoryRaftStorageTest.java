package io.ringkv.raft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The in-memory storage honours the {@link RaftLogReader} contract the core relies on: suffix
 * replacement on append, size-bounded reads that return at least one entry, snapshots, and
 * compaction that never goes past the snapshot.
 */
class MemoryRaftStorageTest {
  private static final ConfState VOTERS = ConfState.ofVoters(Set.of(1L, 2L, 3L));

  private static Entry entry(long term, long index) {
    return new Entry(term, index, EntryType.NORMAL, new byte[10]);
  }

  @Test
  void appendReplacesAConflictingSuffix() {
    MemoryRaftStorage storage = new MemoryRaftStorage(VOTERS);
    storage.append(List.of(entry(1, 1), entry(1, 2), entry(1, 3)));
    storage.append(List.of(entry(2, 2)));
    assertThat(storage.lastIndex()).isEqualTo(2);
    assertThat(storage.term(2)).isEqualTo(2);
    assertThatThrownBy(() -> storage.append(List.of(entry(2, 5)))).hasMessageContaining("gap");
  }

  @Test
  void entriesAreBoundedBySizeButNeverEmpty() {
    MemoryRaftStorage storage = new MemoryRaftStorage(VOTERS);
    storage.append(List.of(entry(1, 1), entry(1, 2), entry(1, 3)));
    long oneEntryBytes = entry(1, 1).sizeBytes();
    assertThat(storage.entries(1, 4, 1)).hasSize(1);
    assertThat(storage.entries(1, 4, 2 * oneEntryBytes)).hasSize(2);
    assertThat(storage.entries(1, 4, Long.MAX_VALUE)).hasSize(3);
    assertThatThrownBy(() -> storage.entries(1, 5, 100))
        .isInstanceOf(LogUnavailableException.class);
  }

  @Test
  void compactionStopsAtTheSnapshotAndTermsSurviveAtItsEdge() {
    MemoryRaftStorage storage = new MemoryRaftStorage(VOTERS);
    storage.append(List.of(entry(1, 1), entry(1, 2), entry(2, 3), entry(2, 4)));
    assertThatThrownBy(() -> storage.compact(3)).hasMessageContaining("beyond the snapshot");
    storage.createSnapshot(3, VOTERS, new byte[] {7});
    storage.compact(3);
    assertThat(storage.firstIndex()).isEqualTo(3);
    assertThat(storage.term(2)).isEqualTo(1); // the compacted prefix's last term stays known
    assertThatThrownBy(() -> storage.term(1)).isInstanceOf(LogCompactedException.class);
    assertThatThrownBy(() -> storage.entries(2, 3, 100)).isInstanceOf(LogCompactedException.class);
    assertThat(storage.snapshot().metadata().index()).isEqualTo(3);
    assertThat(storage.snapshot().metadata().term()).isEqualTo(2);
  }

  @Test
  void applyingASnapshotReplacesTheLog() {
    MemoryRaftStorage storage = new MemoryRaftStorage(ConfState.EMPTY);
    storage.append(List.of(entry(1, 1)));
    storage.applySnapshot(new Snapshot(new SnapshotMetadata(10, 3, VOTERS), new byte[0]));
    assertThat(storage.firstIndex()).isEqualTo(11);
    assertThat(storage.lastIndex()).isEqualTo(10);
    assertThat(storage.term(10)).isEqualTo(3);
    assertThat(storage.initialState().confState()).isEqualTo(VOTERS);
  }
}
