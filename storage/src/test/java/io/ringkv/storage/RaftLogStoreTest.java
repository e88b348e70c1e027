package io.ringkv.storage;

import static io.ringkv.storage.TestStores.entries;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ringkv.raft.ConfState;
import io.ringkv.raft.Entry;
import io.ringkv.raft.EntryType;
import io.ringkv.raft.HardState;
import io.ringkv.raft.Invariants.InvariantViolation;
import io.ringkv.raft.LogCompactedException;
import io.ringkv.raft.LogUnavailableException;
import io.ringkv.raft.SnapshotMetadata;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.RocksIterator;

/**
 * Proves the per-group Raft log on real RocksDB: appends and conflicting-suffix replacement, reads
 * bounded by bytes, terms across compaction (one range delete, term kept), hard state and
 * configuration surviving a reopen, snapshot reset, isolation between groups, always-on Raft
 * invariants (hard state only moves forward, committed entries stay), readers racing compaction
 * seeing "compacted" and never "corrupt", and that a damaged entry fails loudly on read.
 */
class RaftLogStoreTest {
  @TempDir Path directory;

  /** The store's settings; {@link SegmentedRaftLogStoreTest} runs every test on its engine. */
  StorageOptions.Builder options() {
    return TestStores.options(directory);
  }

  StorageEngine open() {
    return StorageEngine.open(options().build());
  }

  @Test
  void emptyLogHasConventionalBounds() {
    try (StorageEngine engine = open()) {
      RaftLogStore log = engine.raftLog(7);
      assertThat(log.firstIndex()).isEqualTo(1);
      assertThat(log.lastIndex()).isZero();
      assertThat(log.term(0)).isZero();
      assertThat(log.initialState().hardState()).isEqualTo(HardState.EMPTY);
      assertThat(log.snapshot().isEmpty()).isTrue();
      assertThatThrownBy(() -> log.term(1)).isInstanceOf(LogUnavailableException.class);
    }
  }

  @Test
  void appendReadAndReplaceConflictingSuffix() {
    try (StorageEngine engine = open()) {
      GroupCommitter committer = engine.groupCommitter();
      RaftLogStore log = engine.raftLog(1);
      committer.submit(LogWrite.of(1, entries(1, 10, 1), new HardState(1, 2, 0))).join();
      assertThat(log.lastIndex()).isEqualTo(10);
      assertThat(log.entries(3, 6, Long.MAX_VALUE)).isEqualTo(entries(3, 5, 1));
      // A new leader at term 2 overwrites from index 6 with a shorter suffix.
      committer.submit(LogWrite.of(1, entries(6, 7, 2), null)).join();
      assertThat(log.lastIndex()).isEqualTo(7);
      assertThat(log.term(5)).isEqualTo(1);
      assertThat(log.term(6)).isEqualTo(2);
      assertThatThrownBy(() -> log.term(8)).isInstanceOf(LogUnavailableException.class);
      assertThatThrownBy(() -> log.entries(1, 9, Long.MAX_VALUE))
          .isInstanceOf(LogUnavailableException.class);
    }
    try (StorageEngine engine = open()) {
      RaftLogStore log = engine.raftLog(1);
      assertThat(log.lastIndex()).as("suffix 8..10 deleted durably").isEqualTo(7);
      assertThat(log.entries(1, 8, Long.MAX_VALUE)).hasSize(7);
      assertThat(log.initialState().hardState()).isEqualTo(new HardState(1, 2, 0));
    }
  }

  @Test
  void appendThatLeavesAGapIsRejectedAndWritesNothing() {
    try (StorageEngine engine = open()) {
      engine.groupCommitter().submit(LogWrite.of(1, entries(1, 3, 1), null)).join();
      assertThatThrownBy(
              () -> engine.groupCommitter().submit(LogWrite.of(1, entries(5, 6, 1), null)).join())
          .hasCauseInstanceOf(StorageException.class)
          .hasMessageContaining("append at 5 does not fit log 1..3");
      assertThat(engine.raftLog(1).lastIndex()).isEqualTo(3);
    }
  }

  @Test
  void hardStateOnlyMovesForwardAndCommittedEntriesAreNeverOverwritten() {
    try (StorageEngine engine = open()) {
      GroupCommitter committer = engine.groupCommitter();
      committer.commit(List.of(LogWrite.of(1, entries(1, 5, 2), new HardState(2, 3, 4))));
      assertThatThrownBy(
              () -> committer.commit(List.of(LogWrite.of(1, List.of(), new HardState(1, 3, 4)))))
          .isInstanceOf(InvariantViolation.class)
          .hasMessageContaining("hard state goes back");
      assertThatThrownBy(
              () -> committer.commit(List.of(LogWrite.of(1, List.of(), new HardState(2, 3, 3)))))
          .hasMessageContaining("hard state goes back");
      assertThatThrownBy(
              () -> committer.commit(List.of(LogWrite.of(1, List.of(), new HardState(2, 2, 4)))))
          .hasMessageContaining("vote changed within term 2");
      assertThatThrownBy(() -> committer.commit(List.of(LogWrite.of(1, entries(4, 4, 3), null))))
          .isInstanceOf(InvariantViolation.class)
          .hasMessageContaining("would overwrite committed entries (commit 4)");
      committer.commit(List.of(LogWrite.of(1, entries(5, 5, 3), new HardState(3, 0, 4))));
      assertThat(engine.raftLog(1).term(5)).isEqualTo(3);
      assertThat(engine.raftLog(1).initialState().hardState()).isEqualTo(new HardState(3, 0, 4));
    }
  }

  @Test
  void entriesAreBoundedByBytesButReturnAtLeastOne() {
    try (StorageEngine engine = open()) {
      engine.groupCommitter().submit(LogWrite.of(3, entries(1, 20, 1), null)).join();
      RaftLogStore log = engine.raftLog(3);
      long oneEntryBytes = log.entries(1, 2, Long.MAX_VALUE).getFirst().sizeBytes();
      assertThat(log.entries(1, 21, 1)).hasSize(1);
      assertThat(log.entries(1, 21, oneEntryBytes * 3)).hasSize(3);
      assertThat(log.entries(1, 21, Long.MAX_VALUE)).hasSize(20);
    }
  }

  @Test
  void compactionDropsThePrefixWithOneRangeDeleteAndKeepsTheTerm() {
    try (StorageEngine engine = open()) {
      engine.groupCommitter().submit(LogWrite.of(2, entries(1, 5, 1), null)).join();
      engine.groupCommitter().submit(LogWrite.of(2, entries(6, 10, 3), null)).join();
      RaftLogStore log = engine.raftLog(2);
      log.compact(6);
      assertThat(log.firstIndex()).isEqualTo(7);
      assertThat(log.term(6)).isEqualTo(3);
      assertThatThrownBy(() -> log.term(5)).isInstanceOf(LogCompactedException.class);
      assertThatThrownBy(() -> log.entries(6, 8, Long.MAX_VALUE))
          .isInstanceOf(LogCompactedException.class);
      log.compact(4); // already compacted further: a no-op
      assertThat(log.firstIndex()).isEqualTo(7);
      assertThat(rawLogKeys(engine, 2)).containsExactly(7L, 8L, 9L, 10L);
    }
    try (StorageEngine engine = open()) {
      RaftLogStore log = engine.raftLog(2);
      assertThat(log.firstIndex()).isEqualTo(7);
      assertThat(log.lastIndex()).isEqualTo(10);
      assertThat(log.term(6)).isEqualTo(3);
      log.compact(10);
      assertThat(log.lastIndex()).as("empty log after full compaction").isEqualTo(10);
      assertThat(log.firstIndex()).isEqualTo(11);
      engine.groupCommitter().submit(LogWrite.of(2, entries(11, 11, 3), null)).join();
      assertThat(log.entries(11, 12, 100)).hasSize(1);
    }
  }

  @Test
  void snapshotWriteResetsTheLogAndConfiguration() {
    ConfState conf = ConfState.ofVoters(Set.of(1L, 2L, 3L));
    SnapshotMetadata snapshot = new SnapshotMetadata(50, 4, conf);
    try (StorageEngine engine = open()) {
      GroupCommitter committer = engine.groupCommitter();
      committer.submit(LogWrite.of(9, entries(1, 5, 1), null)).join();
      committer
          .submit(new LogWrite(9, snapshot, entries(51, 52, 4), new HardState(4, 1, 50), null))
          .join();
    }
    try (StorageEngine engine = open()) {
      RaftLogStore log = engine.raftLog(9);
      assertThat(log.firstIndex()).isEqualTo(51);
      assertThat(log.lastIndex()).isEqualTo(52);
      assertThat(log.term(50)).isEqualTo(4);
      assertThat(log.snapshot().metadata()).isEqualTo(snapshot);
      assertThat(log.initialState().confState()).isEqualTo(conf);
      assertThat(rawLogKeys(engine, 9)).containsExactly(51L, 52L);
    }
  }

  @Test
  void confStateAndSnapshotRecordSurviveReopen() {
    ConfState joint =
        new ConfState(Set.of(1L, 2L, 4L), Set.of(5L), Set.of(1L, 2L, 3L), Set.of(3L), true);
    try (StorageEngine engine = open()) {
      engine
          .groupCommitter()
          .commit(List.of(new LogWrite(4, null, List.of(), new HardState(2, 1, 0), joint)));
      engine.raftLog(4).saveSnapshot(new SnapshotMetadata(0, 0, joint));
    }
    try (StorageEngine engine = open()) {
      assertThat(engine.raftLog(4).initialState().confState()).isEqualTo(joint);
      assertThat(engine.raftLog(4).snapshot().metadata().confState()).isEqualTo(joint);
      assertThat(engine.raftLog(5).initialState().confState()).isEqualTo(ConfState.EMPTY);
    }
  }

  @Test
  void groupsDoNotSeeEachOther() {
    try (StorageEngine engine = open()) {
      engine
          .groupCommitter()
          .commit(
              List.of(
                  LogWrite.of(10, entries(1, 3, 1), null),
                  LogWrite.of(11, entries(1, 8, 1), null)));
      engine.raftLog(10).compact(3);
      assertThat(engine.raftLog(10).lastIndex()).isEqualTo(3);
      assertThat(engine.raftLog(11).entries(1, 9, Long.MAX_VALUE)).hasSize(8);
    }
  }

  @Test
  void readersRacingCompactionSeeCompactedNeverCorruption() throws Exception {
    int roundsMax = 300;
    try (StorageEngine engine = open()) {
      RaftLogStore log = engine.raftLog(1);
      AtomicBoolean done = new AtomicBoolean();
      AtomicReference<Throwable> unexpected = new AtomicReference<>();
      AtomicInteger compactedSeen = new AtomicInteger();
      Thread reader =
          new Thread(() -> {
            while (!done.get() && unexpected.get() == null) {
              try {
                long first = log.firstIndex();
                log.term(first - 1);
                log.entries(first, log.lastIndex() + 1, Long.MAX_VALUE);
              } catch (LogCompactedException e) {
                compactedSeen.incrementAndGet();
              } catch (Throwable e) {
                unexpected.set(e);
              }
            }
          });
      reader.start();
      for (int round = 0; round < roundsMax && unexpected.get() == null; round++) {
        long next = log.lastIndex() + 1;
        engine.groupCommitter().commit(List.of(LogWrite.of(1, entries(next, next + 9, 1), null)));
        log.compact(next + 4);
      }
      done.set(true);
      reader.join(30_000);
      assertThat(unexpected.get()).isNull();
      assertThat(log.firstIndex()).isEqualTo(roundsMax * 10L - 4);
      System.out.println("compaction races seen by the reader: " + compactedSeen.get());
    }
  }

  @Test
  void corruptEntryFailsLoudlyOnRead() throws Exception {
    try (StorageEngine engine = open()) {
      engine.groupCommitter().submit(LogWrite.of(1, entries(1, 3, 1), null)).join();
      Store store = engine.store();
      byte[] key = Keys.log(1, 2);
      byte[] value = store.get(store.raftLog, key);
      value[value.length - 1] ^= 0x40; // one flipped bit in the payload
      store.db.put(store.raftLog, key, value);
    }
    // Reopened, so the entries are not in the in-memory log cache and are read (and checked) again.
    try (StorageEngine engine = open()) {
      RaftLogStore log = engine.raftLog(1);
      assertThatThrownBy(() -> log.entries(1, 4, Long.MAX_VALUE))
          .isInstanceOf(CorruptDataException.class)
          .hasMessageContaining("raft log group 1 index 2")
          .hasMessageContaining("checksum mismatch");
      assertThatThrownBy(() -> log.term(2)).isInstanceOf(CorruptDataException.class);
      assertThat(log.term(3)).isEqualTo(1);
    }
  }

  @Test
  void entryLimitsRejectBeforeAnythingIsQueued() {
    try (StorageEngine engine =
        StorageEngine.open(
            options()
                .keySizeBytesMax(100)
                .valueSizeBytesMax(1000)
                .batchEntriesMax(4)
                .batchSizeBytesMax(10_000)
                .build())) {
      // The synchronous commit is all or nothing; submit splits, but one entry alone must fit.
      assertThatThrownBy(
              () -> engine.groupCommitter().commit(List.of(LogWrite.of(1, entries(1, 5, 1), null))))
          .isInstanceOf(LimitExceededException.class)
          .hasMessage("batchEntriesMax exceeded: 5 > 4");
      Entry big = new Entry(1, 1, EntryType.NORMAL, new byte[10_000]);
      assertThatThrownBy(() -> engine.groupCommitter().submit(LogWrite.of(1, List.of(big), null)))
          .isInstanceOf(LimitExceededException.class)
          .hasMessageContaining("batchSizeBytesMax exceeded: 10017 > 10000");
      assertThatThrownBy(
              () -> engine.groupCommitter().commit(List.of(LogWrite.of(1, List.of(big), null))))
          .isInstanceOf(LimitExceededException.class)
          .hasMessageContaining("batchSizeBytesMax exceeded: 10017 > 10000");
      assertThat(engine.raftLog(1).lastIndex()).isZero();
    }
  }

  /** The indexes the engine still stores for {@code groupId}. */
  List<Long> rawLogKeys(StorageEngine engine, long groupId) {
    Store store = engine.store();
    List<Long> indexes = new ArrayList<>();
    try (RocksIterator iterator = store.db.newIterator(store.raftLog)) {
      for (iterator.seek(Keys.group(groupId)); iterator.isValid(); iterator.next()) {
        if (ByteBuffer.wrap(iterator.key()).getLong() != groupId) {
          break;
        }
        indexes.add(Keys.logIndex(iterator.key()));
      }
    }
    return indexes;
  }
}
