package io.ringkv.storage;

import static io.ringkv.storage.TestStores.bytes;
import static io.ringkv.storage.TestStores.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ringkv.raft.ConfState;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves partition snapshots between two real stores: export as SST plus manifest, install on
 * another RocksDB directory replacing exactly that partition (data, sessions, applied state,
 * changefeed floor), and rejection of damaged files and manifests with the old state kept.
 * Interrupted installs: {@link SnapshotRollForwardTest}.
 */
class SnapshotTest {
  @TempDir Path source;
  @TempDir Path target;
  @TempDir Path exports;

  private static final ConfState CONF = ConfState.ofVoters(Set.of(1L, 2L, 3L));

  static void fill(PartitionStore partition, String prefix, long fromIndex, int count) {
    List<Mutation> mutations = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      mutations.add(new Mutation.Put(bytes(prefix + i), bytes("value-" + i), fromIndex));
    }
    partition.apply(
        new ApplyBatch(
            fromIndex,
            2,
            CONF,
            0,
            mutations,
            List.of(new SessionRecord(5, fromIndex, bytes(prefix + "-response")))));
  }

  @Test
  void exportAndInstallReplaceOnePartition() {
    Path snapshotDirectory = exports.resolve("g1");
    SnapshotFiles exported;
    try (StorageEngine engine = TestStores.open(source)) {
      fill(engine.partition(1), "new-", 40, 500);
      exported = engine.partition(1).exportSnapshot(snapshotDirectory);
      fill(engine.partition(1), "after-", 41, 1); // not part of the snapshot
    }
    assertThat(exported.appliedState()).isEqualTo(new AppliedState(40, 2, CONF));
    assertThat(exported.files()).hasSize(1);
    assertThat(exported.manifest()).exists();

    try (StorageEngine engine = TestStores.open(target)) {
      fill(engine.partition(1), "old-", 10, 20);
      fill(engine.partition(2), "neighbour-", 10, 3);
      AppliedState installed = engine.partition(1).installSnapshot(snapshotDirectory);
      assertThat(installed.index()).isEqualTo(40);
    }
    try (StorageEngine engine = TestStores.open(target)) {
      PartitionStore partition = engine.partition(1);
      assertThat(partition.needsSnapshot()).isFalse();
      assertThat(partition.appliedState()).isEqualTo(new AppliedState(40, 2, CONF));
      assertThat(partition.scan(ScanRange.prefix(bytes("old-")), 100)).isEmpty();
      assertThat(partition.scan(ScanRange.prefix(bytes("after-")), 100)).isEmpty();
      assertThat(partition.scan(ScanRange.prefix(bytes("new-")), 1000)).hasSize(500);
      assertThat(text(partition.get(bytes("new-7")).orElseThrow().value())).isEqualTo("value-7");
      assertThat(text(partition.session(5).orElseThrow().response())).isEqualTo("new--response");
      assertThat(engine.changefeed(1).oldestRetainedRevision()).isEqualTo(41);
      assertThat(engine.partition(2).scan(ScanRange.prefix(new byte[0]), 10))
          .as("other partitions untouched")
          .hasSize(3);
      fill(partition, "next-", 41, 1);
      assertThat(engine.changefeed(1).read(41, 10, Long.MAX_VALUE)).hasSize(1);
    }
  }

  @Test
  void damagedSnapshotIsRejectedAndOldStateKept() throws Exception {
    Path snapshotDirectory = exports.resolve("g1");
    try (StorageEngine engine = TestStores.open(source)) {
      fill(engine.partition(1), "new-", 40, 50);
      engine.partition(1).exportSnapshot(snapshotDirectory);
    }
    Path sst = snapshotDirectory.resolve("data.sst");
    byte[] original = Files.readAllBytes(sst);
    flipByte(sst, original.length / 2);
    try (StorageEngine engine = TestStores.open(target)) {
      fill(engine.partition(1), "old-", 10, 5);
      assertThatThrownBy(() -> engine.partition(1).installSnapshot(snapshotDirectory))
          .isInstanceOf(SnapshotRejectedException.class)
          .hasMessageContaining("does not match its manifest");
      Files.write(sst, original);
      flipByte(snapshotDirectory.resolve(SnapshotFiles.MANIFEST_NAME), 12);
      assertThatThrownBy(() -> engine.partition(1).installSnapshot(snapshotDirectory))
          .isInstanceOf(SnapshotRejectedException.class)
          .hasMessageContaining("fails its checksum");
      assertThatThrownBy(() -> engine.partition(2).installSnapshot(exports.resolve("missing")))
          .isInstanceOf(SnapshotRejectedException.class);
      PartitionStore partition = engine.partition(1);
      assertThat(partition.needsSnapshot()).isFalse();
      assertThat(partition.appliedState().index()).isEqualTo(10);
      assertThat(partition.scan(ScanRange.prefix(bytes("old-")), 100)).hasSize(5);
    }
  }

  @Test
  void snapshotOfAnotherGroupIsRejected() {
    Path snapshotDirectory = exports.resolve("g1");
    try (StorageEngine engine = TestStores.open(source)) {
      fill(engine.partition(1), "x", 3, 1);
      engine.partition(1).exportSnapshot(snapshotDirectory);
      assertThatThrownBy(() -> engine.partition(2).installSnapshot(snapshotDirectory))
          .isInstanceOf(SnapshotRejectedException.class)
          .hasMessageContaining("is of group 1, not 2");
    }
  }

  @Test
  void exportRefusesToCopyDamagedData() throws Exception {
    try (StorageEngine engine = TestStores.open(source)) {
      fill(engine.partition(1), "k", 3, 10);
      Store store = engine.store();
      byte[] key = Keys.user(1, bytes("k4"));
      byte[] value = store.get(store.data, key);
      value[value.length - 1] ^= 1;
      store.db.put(store.data, key, value);
      assertThatThrownBy(() -> engine.partition(1).exportSnapshot(exports.resolve("bad")))
          .isInstanceOf(CorruptDataException.class);
      assertThat(exports.resolve("bad").resolve(SnapshotFiles.MANIFEST_NAME)).doesNotExist();
    }
  }

  @Test
  void emptyPartitionExportsNoFiles() {
    Path snapshotDirectory = exports.resolve("empty");
    try (StorageEngine engine = TestStores.open(source)) {
      SnapshotFiles files = engine.partition(6).exportSnapshot(snapshotDirectory);
      assertThat(files.files()).isEmpty();
    }
    try (StorageEngine engine = TestStores.open(target)) {
      fill(engine.partition(6), "old-", 3, 2);
      engine.partition(6).installSnapshot(snapshotDirectory);
      assertThat(engine.partition(6).scan(ScanRange.prefix(new byte[0]), 10)).isEmpty();
    }
  }

  private static void flipByte(Path file, long position) throws Exception {
    try (RandomAccessFile raw = new RandomAccessFile(file.toFile(), "rw")) {
      raw.seek(position);
      int value = raw.read();
      raw.seek(position);
      raw.write(value ^ 0xff);
    }
  }
}
