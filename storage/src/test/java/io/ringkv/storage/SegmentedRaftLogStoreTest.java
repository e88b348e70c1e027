package io.ringkv.storage;

import static io.ringkv.storage.TestStores.entries;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ringkv.raft.ConfState;
import io.ringkv.raft.HardState;
import io.ringkv.raft.SnapshotMetadata;
import io.ringkv.storage.raftlog.CorruptLogException;
import io.ringkv.storage.raftlog.SegmentedLog;
import io.ringkv.storage.raftlog.SegmentedLogOptions;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Set;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.rocksdb.WriteBatch;

/**
 * Runs every {@link RaftLogStoreTest} with the segmented Raft log as the engine, then proves what
 * only that engine does: entries and hard state go to the log and nothing to RocksDB's log
 * families; a destroyed group leaves nothing for a group re-created with its id, also when a crash
 * interrupted the destroy between RocksDB and the log; a snapshot record that a crash left ahead of
 * the log is caught up at open (compacted or reset, hard state lifted, so the core never sees a
 * commit outside its log); a store never opens with the other engine; a damaged record in the
 * middle refuses the open; and the planted bug debug-unsynced-writes keeps acknowledged batches out
 * of the file.
 */
class SegmentedRaftLogStoreTest extends RaftLogStoreTest {
  @Override
  StorageOptions.Builder options() {
    return super.options().raftLogEngine(RaftLogEngine.SEGMENTED);
  }

  /** Nothing in the raft_log family; the indexes are those the log still serves. */
  @Override
  List<Long> rawLogKeys(StorageEngine engine, long groupId) {
    assertThat(super.rawLogKeys(engine, groupId)).as("raft_log column family").isEmpty();
    RaftLogStore log = engine.raftLog(groupId);
    return LongStream.rangeClosed(log.firstIndex(), log.lastIndex()).boxed().toList();
  }

  @Override
  @Test
  void corruptEntryFailsLoudlyOnRead() throws Exception {
    try (StorageEngine engine = open()) {
      engine.groupCommitter().submit(LogWrite.of(1, entries(1, 3, 1), null)).join();
      engine.groupCommitter().submit(LogWrite.of(1, entries(4, 6, 1), null)).join();
    }
    Path segment = onlySegment();
    // Inside the first record's body (after the 32-byte segment and 8-byte record headers): a
    // record followed by a good one cannot be a torn tail.
    flipByte(segment, 32 + 8 + 24);
    assertThatThrownBy(this::open)
        .isInstanceOf(CorruptLogException.class)
        .hasMessageContaining(segment.getFileName().toString())
        .hasMessageContaining("offset 32");
  }

  @Test
  void entriesAndHardStateLiveInTheLogNotInRocksDb() {
    try (StorageEngine engine = open()) {
      engine
          .groupCommitter()
          .submit(LogWrite.of(3, entries(1, 4, 2), new HardState(2, 1, 3)))
          .join();
      Store store = engine.store();
      assertThat(store.get(store.raftState, Keys.state(3, Keys.TAG_HARD_STATE))).isNull();
      assertThat(super.rawLogKeys(engine, 3)).isEmpty();
    }
    try (StorageEngine engine = open()) {
      RaftLogStore log = engine.raftLog(3);
      assertThat(log.entries(1, 5, Long.MAX_VALUE)).isEqualTo(entries(1, 4, 2));
      assertThat(log.initialState().hardState()).isEqualTo(new HardState(2, 1, 3));
      assertThat(engine.persistedGroups()).contains(3L);
    }
  }

  @Test
  void destroyedGroupLeavesNothingForOneCreatedWithTheSameId() {
    try (StorageEngine engine = open()) {
      engine
          .groupCommitter()
          .submit(LogWrite.of(5, entries(1, 9, 3), new HardState(3, 2, 9)))
          .join();
      engine.destroyGroup(5);
      RaftLogStore fresh = engine.raftLog(5);
      assertThat(fresh.lastIndex()).isZero();
      assertThat(fresh.initialState().hardState()).isEqualTo(HardState.EMPTY);
      engine
          .groupCommitter()
          .submit(LogWrite.of(5, entries(1, 2, 1), new HardState(1, 0, 0)))
          .join();
    }
    try (StorageEngine engine = open()) {
      RaftLogStore log = engine.raftLog(5);
      assertThat(log.entries(1, 3, Long.MAX_VALUE)).isEqualTo(entries(1, 2, 1));
      assertThat(log.lastIndex()).isEqualTo(2);
      assertThat(log.initialState().hardState()).isEqualTo(new HardState(1, 0, 0));
    }
  }

  @Test
  void destroyInterruptedBetweenRocksDbAndTheLogIsFinishedAtOpen() throws Exception {
    try (StorageEngine engine = open()) {
      engine
          .groupCommitter()
          .submit(LogWrite.of(4, entries(1, 3, 2), new HardState(2, 2, 3)))
          .join();
      // The state a crash leaves after destroyGroup's RocksDB batch, before the log's record.
      Store store = engine.store();
      byte[] mark = Keys.state(4, Keys.TAG_DESTROYING);
      try (WriteBatch batch = new WriteBatch()) {
        batch.put(store.raftState, mark, Codec.seal(mark, ByteBuffer.allocate(0)));
        store.write(batch, true);
      }
    }
    try (StorageEngine engine = open()) {
      assertThat(engine.persistedGroups()).doesNotContain(4L);
      assertThat(engine.raftLog(4).lastIndex()).isZero();
      assertThat(engine.raftLog(4).initialState().hardState()).isEqualTo(HardState.EMPTY);
      Store store = engine.store();
      assertThat(store.get(store.raftState, Keys.state(4, Keys.TAG_DESTROYING))).isNull();
    }
  }

  @Test
  void snapshotRecordAheadOfTheLogIsCaughtUpAtOpen() {
    ConfState conf = ConfState.ofVoters(Set.of(1L, 2L, 3L));
    try (StorageEngine engine = open()) {
      GroupCommitter committer = engine.groupCommitter();
      // Group 1: applied ahead of the durable commit (3), snapshot record saved at 5, then a crash
      // before the compaction mark. Group 2: a snapshot install whose log write never happened.
      committer.submit(LogWrite.of(1, entries(1, 8, 1), new HardState(1, 1, 3))).join();
      committer.submit(LogWrite.of(2, entries(1, 8, 1), new HardState(1, 1, 8))).join();
      engine.raftLog(1).saveSnapshot(new SnapshotMetadata(5, 1, conf));
      engine.raftLog(2).saveSnapshot(new SnapshotMetadata(20, 4, conf));
    }
    try (StorageEngine engine = open()) {
      RaftLogStore kept = engine.raftLog(1);
      assertThat(kept.firstIndex()).isEqualTo(6);
      assertThat(kept.lastIndex()).isEqualTo(8);
      assertThat(kept.initialState().hardState()).isEqualTo(new HardState(1, 1, 5));
      RaftLogStore reset = engine.raftLog(2);
      assertThat(reset.firstIndex()).isEqualTo(21);
      assertThat(reset.lastIndex()).isEqualTo(20);
      assertThat(reset.term(20)).isEqualTo(4);
      assertThat(reset.initialState().hardState()).isEqualTo(new HardState(4, 0, 20));
    }
    try (StorageEngine engine = open()) {
      assertThat(engine.raftLog(2).firstIndex()).as("the repair is durable").isEqualTo(21);
      assertThat(engine.raftLog(1).initialState().hardState()).isEqualTo(new HardState(1, 1, 5));
    }
  }

  @Test
  void storeNeverOpensWithTheOtherEngine() {
    StorageEngine.open(super.options().build()).close();
    assertThatThrownBy(this::open)
        .isInstanceOf(StorageException.class)
        .hasMessageContaining("keeps its Raft logs in the rocksdb engine")
        .hasMessageContaining("raft-log-engine=segmented");
  }

  @Test
  void existingStoreKeepsItsEngineWhenTheSettingWasOnlyADefault() {
    try (StorageEngine engine = StorageEngine.open(super.options().build())) {
      engine.groupCommitter().submit(LogWrite.of(1, entries(1, 3, 1), null)).join();
    }
    try (StorageEngine engine =
        StorageEngine.open(options().raftLogEngineFollowsStore(true).build())) {
      assertThat(engine.raftLogEngine()).isEqualTo(RaftLogEngine.ROCKSDB);
      assertThat(engine.raftLog(1).entries(1, 4, Long.MAX_VALUE)).isEqualTo(entries(1, 3, 1));
    }
    try (StorageEngine engine =
        StorageEngine.open(options().raftLogEngineFollowsStore(true).build())) {
      assertThat(engine.raftLogEngine())
          .as("the recorded engine is kept")
          .isEqualTo(RaftLogEngine.ROCKSDB);
    }
  }

  @Test
  void newStoreTakesTheConfiguredEngineEvenWhenItOnlyFollows() {
    try (StorageEngine engine =
        StorageEngine.open(options().raftLogEngineFollowsStore(true).build())) {
      assertThat(engine.raftLogEngine()).isEqualTo(RaftLogEngine.SEGMENTED);
    }
  }

  @Test
  void segmentedStoreNeverOpensWithRocksDb() {
    open().close();
    assertThatThrownBy(() -> StorageEngine.open(super.options().build()))
        .isInstanceOf(StorageException.class)
        .hasMessageContaining("keeps its Raft logs in the segmented engine");
  }

  @Test
  void debugUnsyncedWritesKeepAcknowledgedBatchesOutOfTheFile() throws Exception {
    Clock frozen = Clock.fixed(Instant.parse("2026-12-07T00:00:00Z"), ZoneOffset.UTC);
    StorageOptions options =
        options().debugUnsyncedWrites(true).clock(frozen).logCacheEntriesMax(0).build();
    Path copy = Files.createTempDirectory("ringkv-unsynced-copy");
    try (StorageEngine engine = StorageEngine.open(options)) {
      GroupCommitter committer = engine.groupCommitter();
      committer.submit(LogWrite.of(1, entries(1, 2, 1), null)).join(); // first: written out
      committer.submit(LogWrite.of(1, entries(3, 5, 1), null)).join(); // held: clock frozen
      assertThat(engine.raftLog(1).entries(1, 6, Long.MAX_VALUE))
          .as("held batches are read from memory")
          .isEqualTo(entries(1, 5, 1));
      // What a SIGKILL now would leave: the files as they are.
      copyFiles(options.raftLogPath(), copy);
    }
    try (SegmentedLog crashed = SegmentedLog.open(SegmentedLogOptions.defaults(copy))) {
      assertThat(crashed.lastIndex(1))
          .as("acknowledged entries 3..5 never reached the file")
          .isEqualTo(2);
    }
    try (StorageEngine engine = StorageEngine.open(options)) {
      assertThat(engine.raftLog(1).lastIndex()).as("a clean close writes them out").isEqualTo(5);
    }
  }

  private Path onlySegment() throws IOException {
    try (Stream<Path> files = Files.list(options().build().raftLogPath())) {
      List<Path> segments = files.filter(f -> f.toString().endsWith(".seg")).toList();
      assertThat(segments).hasSize(1);
      return segments.getFirst();
    }
  }

  private static void flipByte(Path file, long offset) throws IOException {
    try (FileChannel channel =
        FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      ByteBuffer one = ByteBuffer.allocate(1);
      channel.read(one, offset);
      one.put(0, (byte) (one.get(0) ^ 0x40)).rewind();
      channel.write(one, offset);
    }
  }

  private static void copyFiles(Path from, Path to) throws IOException {
    try (Stream<Path> files = Files.list(from)) {
      for (Path file : files.toList()) {
        Files.copy(file, to.resolve(file.getFileName()));
      }
    }
  }
}
