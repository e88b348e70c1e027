package io.ringkv.storage;

import static io.ringkv.storage.TestStores.bytes;
import static io.ringkv.storage.TestStores.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves that a snapshot install interrupted after its durable marker is finished at the next open
 * (roll-forward), whatever step it stopped after: the install is driven step by step and the store
 * closed (the "crash") after each step; reopened, the partition equals the snapshot (keys, values,
 * session, applied state, changefeed floor), the marker and (if it still named them) the snapshot
 * files are gone, and a neighbour partition is untouched. When the files the marker names are gone
 * or damaged, the partition stays unavailable with a reason naming the group and the path (the old
 * refusal), and a later complete install still repairs it. The Raft log is never touched by any of
 * this.
 */
class SnapshotRollForwardTest {
  @TempDir Path source;
  @TempDir Path work;

  /** The steps of an install, in order; the test crashes after each prefix of them. */
  private enum Step {
    MARK,
    CLEAR,
    INGEST,
    FINISH
  }

  @Test
  void installInterruptedAfterAnyStepIsFinishedAtOpen() throws Exception {
    Path exported = exportGroupOne();
    for (Step last : Step.values()) {
      Path target = work.resolve("store-" + last);
      Path directory = work.resolve("incoming-" + last);
      copyTree(exported, directory);
      long logLast;
      try (StorageEngine engine = TestStores.open(target)) {
        SnapshotTest.fill(engine.partition(1), "old-", 10, 20);
        SnapshotTest.fill(engine.partition(2), "neighbour-", 10, 3);
        engine.groupCommitter().commit(List.of(logWrite(1, 1, 12)));
        logLast = engine.raftLog(1).lastIndex();
        interruptAfter(engine, directory, last);
      }
      try (StorageEngine engine = TestStores.open(target)) {
        assertThat(engine.partitionsNeedingSnapshot()).as("after " + last).isEmpty();
        assertEqualsSnapshot(engine);
        // After FINISH the marker is gone and nothing names the directory any more: it is left
        // for the owner of the scratch space (the node clears it at start).
        assertThat(Files.exists(directory))
            .as("snapshot files removed after " + last)
            .isEqualTo(last == Step.FINISH);
        assertThat(engine.store().get(engine.store().raftState, Keys.state(1, Keys.TAG_INSTALLING)))
            .isNull();
        assertThat(engine.raftLog(1).lastIndex()).as("Raft log kept").isEqualTo(logLast);
        assertThat(engine.partition(2).scan(ScanRange.prefix(bytes("neighbour-")), 10)).hasSize(3);
      }
    }
  }

  @Test
  void interruptedInstallWithoutItsFilesStaysUnavailableUntilANewSnapshot() throws Exception {
    Path exported = exportGroupOne();
    for (boolean damage : new boolean[] {false, true}) {
      Path target = work.resolve("store-" + damage);
      Path directory = work.resolve("incoming-" + damage);
      copyTree(exported, directory);
      try (StorageEngine engine = TestStores.open(target)) {
        SnapshotTest.fill(engine.partition(1), "old-", 10, 20);
        interruptAfter(engine, directory, Step.CLEAR);
      }
      if (damage) {
        try (RandomAccessFile raw =
            new RandomAccessFile(directory.resolve("data.sst").toFile(), "rw")) {
          raw.seek(100);
          int value = raw.read();
          raw.seek(100);
          raw.write(value ^ 0xff);
        }
      } else {
        deleteTree(directory);
      }
      try (StorageEngine engine = TestStores.open(target)) {
        assertThat(engine.partitionsNeedingSnapshot()).containsExactly(1L);
        PartitionStore partition = engine.partition(1);
        assertThat(partition.needsSnapshot()).isTrue();
        assertThat(partition.needsSnapshotReason())
            .contains(directory.toString())
            .contains("group 1");
        assertThatThrownBy(() -> partition.get(bytes("new-1")))
            .isInstanceOf(PartitionUnavailableException.class)
            .hasMessageContaining("group 1 needs a new snapshot")
            .hasMessageContaining(directory.toString());
        assertThatThrownBy(() -> partition.apply(ApplyBatch.of(41, 1, 0, List.of())))
            .isInstanceOf(PartitionUnavailableException.class);
        assertThat(Files.exists(directory))
            .as("damaged files kept for the operator")
            .isEqualTo(damage);
        Path fresh = work.resolve("fresh-" + damage);
        copyTree(exported, fresh);
        partition.installSnapshot(fresh);
        assertThat(engine.partitionsNeedingSnapshot()).isEmpty();
        assertEqualsSnapshot(engine);
      }
    }
  }

  /** Group 1 at applied index 40 with 300 keys and one session, exported. */
  private Path exportGroupOne() {
    Path exported = work.resolve("exported");
    try (StorageEngine engine = TestStores.open(source)) {
      SnapshotTest.fill(engine.partition(1), "new-", 40, 300);
      engine.partition(1).exportSnapshot(exported);
    }
    return exported;
  }

  /** Runs the install of {@code directory} into group 1 up to and including {@code last}. */
  private static void interruptAfter(StorageEngine engine, Path directory, Step last) {
    Store store = engine.store();
    SnapshotFiles files = PartitionSnapshots.verify(directory, 1);
    for (Step step : Step.values()) {
      switch (step) {
        case MARK -> PartitionSnapshots.markInstalling(store, 1, 40, directory);
        case CLEAR -> PartitionSnapshots.clear(store, 1);
        case INGEST -> PartitionSnapshots.ingest(store, 1, files);
        case FINISH ->
            PartitionSnapshots.finishInstall(store, 1, files.appliedState(), engine.changefeed(1));
      }
      if (step == last) {
        return;
      }
    }
  }

  private static void assertEqualsSnapshot(StorageEngine engine) {
    PartitionStore partition = engine.partition(1);
    assertThat(partition.needsSnapshot()).isFalse();
    assertThat(partition.appliedState().index()).isEqualTo(40);
    assertThat(partition.scan(ScanRange.prefix(bytes("old-")), 100)).isEmpty();
    List<KeyValue> keys = partition.scan(ScanRange.prefix(bytes("new-")), 1000);
    assertThat(keys).hasSize(300);
    assertThat(text(partition.get(bytes("new-7")).orElseThrow().value())).isEqualTo("value-7");
    assertThat(text(partition.session(5).orElseThrow().response())).isEqualTo("new--response");
    assertThat(engine.changefeed(1).oldestRetainedRevision()).isEqualTo(41);
  }

  private static LogWrite logWrite(long groupId, long from, long to) {
    return new LogWrite(groupId, null, TestStores.entries(from, to, 1), null, null);
  }

  private static void copyTree(Path from, Path to) throws Exception {
    Files.createDirectories(to);
    Map<String, Path> files = new TreeMap<>();
    try (var list = Files.list(from)) {
      list.forEach(file -> files.put(file.getFileName().toString(), file));
    }
    for (Map.Entry<String, Path> file : files.entrySet()) {
      Files.copy(file.getValue(), to.resolve(file.getKey()));
    }
  }

  private static void deleteTree(Path directory) throws Exception {
    try (var list = Files.list(directory)) {
      for (Path file : list.toList()) {
        Files.delete(file);
      }
    }
    Files.delete(directory);
  }
}
