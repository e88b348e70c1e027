package io.ringkv.storage;

import static io.ringkv.storage.TestStores.bytes;
import static io.ringkv.storage.TestStores.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.ringkv.raft.ConfState;
import io.ringkv.raft.Invariants.InvariantViolation;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves partition state on real RocksDB: etcd-style create/mod revision and version, deletes,
 * sessions and applied state written in one batch and surviving reopen, ordered prefix and range
 * scans with limits, snapshot-consistent read views, limits that reject without writing, and
 * detection of a damaged value.
 */
class PartitionStoreTest {
  @TempDir Path directory;

  private static Mutation put(String key, String value, long revision) {
    return new Mutation.Put(bytes(key), bytes(value), revision);
  }

  private static Mutation delete(String key, long revision) {
    return new Mutation.Delete(bytes(key), revision);
  }

  @Test
  void revisionsAndVersionsFollowEtcd() {
    try (StorageEngine engine = TestStores.open(directory)) {
      PartitionStore partition = engine.partition(1);
      long walSyncsBefore = engine.walSyncCount();
      partition.apply(ApplyBatch.of(5, 1, 1000, List.of(put("a", "1", 5))));
      assertThat(engine.walSyncCount()).as("applies do not fsync").isEqualTo(walSyncsBefore);
      partition.apply(ApplyBatch.of(7, 1, 1001, List.of(put("a", "2", 6), put("b", "x", 7))));
      assertThat(partition.get(bytes("a"))).contains(new StoredValue(bytes("2"), 5, 6, 2));
      partition.apply(ApplyBatch.of(9, 2, 1002, List.of(delete("a", 8), put("a", "3", 9))));
      assertThat(partition.get(bytes("a")))
          .as("recreated after delete: new create revision, version 1")
          .contains(new StoredValue(bytes("3"), 9, 9, 1));
      assertThat(partition.appliedState().index()).isEqualTo(9);
    }
    try (StorageEngine engine = TestStores.open(directory)) {
      PartitionStore partition = engine.partition(1);
      assertThat(partition.appliedState()).isEqualTo(new AppliedState(9, 2, ConfState.EMPTY));
      assertThat(partition.get(bytes("b"))).contains(new StoredValue(bytes("x"), 7, 7, 1));
      assertThat(engine.partition(2).get(bytes("a"))).as("other partition").isEmpty();
    }
  }

  @Test
  void applyWritesSessionsConfigurationAndChangesTogether() {
    ConfState conf = ConfState.ofVoters(Set.of(1L, 2L, 3L));
    try (StorageEngine engine = TestStores.open(directory)) {
      PartitionStore partition = engine.partition(3);
      List<ChangeRecord> changes =
          partition.apply(
              new ApplyBatch(
                  4,
                  1,
                  conf,
                  500,
                  List.of(put("k", "v", 3), put("k", "w", 4), delete("missing", 4)),
                  List.of(new SessionRecord(77, 12, bytes("ok")))));
      assertThat(changes).hasSize(2);
      assertThat(changes.get(1).previous().value()).isEqualTo(bytes("v"));
      assertThat(changes.get(1).ordinal()).isZero();
    }
    try (StorageEngine engine = TestStores.open(directory)) {
      PartitionStore partition = engine.partition(3);
      assertThat(partition.appliedState().confState()).isEqualTo(conf);
      SessionRecord session = partition.session(77).orElseThrow();
      assertThat(session.lastSequence()).isEqualTo(12);
      assertThat(text(session.response())).isEqualTo("ok");
      assertThat(partition.scan(ScanRange.prefix(new byte[0]), 10))
          .as("sessions are not user keys")
          .hasSize(1);
      assertThat(engine.changefeed(3).read(1, 100, Long.MAX_VALUE)).hasSize(2);
    }
  }

  @Test
  void scansAreOrderedBoundedAndPrefixed() {
    try (StorageEngine engine = TestStores.open(directory)) {
      PartitionStore partition = engine.partition(1);
      partition.apply(
          ApplyBatch.of(
              1,
              1,
              0,
              List.of(
                  put("user/b", "2", 1),
                  put("user/a", "1", 1),
                  put("user/c", "3", 1),
                  put("users", "x", 1),
                  put("zzz", "z", 1))));
      engine.partition(2).apply(ApplyBatch.of(1, 1, 0, List.of(put("user/0", "other", 1))));
      assertThat(keys(partition.scan(ScanRange.prefix(bytes("user/")), 10)))
          .containsExactly("user/a", "user/b", "user/c");
      assertThat(keys(partition.scan(ScanRange.prefix(bytes("user/")), 2)))
          .containsExactly("user/a", "user/b");
      assertThat(keys(partition.scan(ScanRange.between(bytes("user/b"), bytes("users")), 10)))
          .containsExactly("user/b", "user/c");
      assertThat(keys(partition.scan(ScanRange.between(bytes("user/c"), null), 10)))
          .containsExactly("user/c", "users", "zzz");
    }
  }

  @Test
  void readViewIsConsistentWhileAppliesContinue() {
    try (StorageEngine engine = TestStores.open(directory)) {
      PartitionStore partition = engine.partition(1);
      partition.apply(ApplyBatch.of(1, 1, 0, List.of(put("a", "old", 1))));
      try (PartitionReadView view = partition.readView()) {
        partition.apply(ApplyBatch.of(2, 1, 0, List.of(put("a", "new", 2), put("b", "b", 2))));
        assertThat(view.appliedState().index()).isEqualTo(1);
        assertThat(text(view.get(bytes("a")).orElseThrow().value())).isEqualTo("old");
        assertThat(view.scan(ScanRange.prefix(new byte[0]), 10)).hasSize(1);
      }
      assertThat(text(partition.get(bytes("a")).orElseThrow().value())).isEqualTo("new");
    }
  }

  @Test
  void limitsRejectTheWholeBatchAndNameTheLimit() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    try (StorageEngine engine =
        StorageEngine.open(
            TestStores.options(directory)
                .meterRegistry(registry)
                .keySizeBytesMax(8)
                .valueSizeBytesMax(16)
                .batchEntriesMax(3)
                .batchSizeBytesMax(40)
                .build())) {
      PartitionStore partition = engine.partition(1);
      assertThatThrownBy(() ->
              partition.apply(
                  ApplyBatch.of(1, 1, 0, List.of(put("ok", "v", 1), put("123456789", "v", 1)))))
          .isInstanceOf(LimitExceededException.class)
          .hasMessage("keySizeBytesMax exceeded: 9 > 8");
      assertThatThrownBy(
              () -> partition.apply(ApplyBatch.of(1, 1, 0, List.of(put("k", "x".repeat(17), 1)))))
          .hasMessage("valueSizeBytesMax exceeded: 17 > 16");
      assertThatThrownBy(() ->
              partition.apply(
                  ApplyBatch.of(
                      1,
                      1,
                      0,
                      List.of(put("a", "", 1), put("b", "", 1), put("c", "", 1), put("d", "", 1)))))
          .hasMessage("batchEntriesMax exceeded: 4 > 3");
      assertThatThrownBy(() ->
              partition.apply(
                  ApplyBatch.of(
                      1,
                      1,
                      0,
                      List.of(
                          put("k1", "x".repeat(16), 1),
                          put("k2", "x".repeat(16), 1),
                          put("k3", "x".repeat(16), 1)))))
          .isInstanceOf(LimitExceededException.class)
          .satisfies(e ->
              assertThat(((LimitExceededException) e).limitName()).isEqualTo("batchSizeBytesMax"));
      assertThat(partition.get(bytes("ok"))).as("nothing written").isEmpty();
      assertThat(
              registry.counter("ringkv.storage.limit.rejected", "limit", "keySizeBytesMax").count())
          .isEqualTo(1.0);
      assertThat(
              registry
                  .counter("ringkv.storage.limit.rejected", "limit", "batchSizeBytesMax")
                  .count())
          .isEqualTo(1.0);
      assertThat(partition.appliedState().index()).isZero();
    }
  }

  @Test
  void appliedIndexMustAdvance() {
    try (StorageEngine engine = TestStores.open(directory)) {
      PartitionStore partition = engine.partition(1);
      partition.apply(ApplyBatch.of(3, 1, 0, List.of(put("a", "1", 3))));
      assertThatThrownBy(() -> partition.apply(ApplyBatch.of(3, 1, 0, List.of())))
          .isInstanceOf(InvariantViolation.class);
      assertThatThrownBy(() -> partition.apply(ApplyBatch.of(5, 1, 0, List.of(put("a", "2", 2)))))
          .isInstanceOf(InvariantViolation.class)
          .hasMessageContaining("already applied");
    }
  }

  @Test
  void damagedValueFailsLoudly() throws Exception {
    try (StorageEngine engine = TestStores.open(directory)) {
      engine.partition(1).apply(ApplyBatch.of(1, 1, 0, List.of(put("a", "value", 1))));
      Store store = engine.store();
      byte[] key = Keys.user(1, bytes("a"));
      byte[] value = store.get(store.data, key);
      value[6] ^= 1;
      store.db.put(store.data, key, value);
      assertThatThrownBy(() -> engine.partition(1).get(bytes("a")))
          .isInstanceOf(CorruptDataException.class)
          .hasMessageContaining("data of group 1");
    }
  }

  private static List<String> keys(List<KeyValue> entries) {
    return entries.stream().map(entry -> text(entry.key())).toList();
  }
}
