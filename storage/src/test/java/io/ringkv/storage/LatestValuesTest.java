package io.ringkv.storage;

import static org.assertj.core.api.Assertions.assertThat;

import io.ringkv.raft.ConfState;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves the current values a partition keeps for its applies ({@link PartitionStore#currentValue},
 * {@link PartitionStore#currentSession}) against what the store holds: they follow every apply, a
 * view of an older state reads that state and changes nothing kept, the bound holds over many large
 * values, and a snapshot install replaces what was kept.
 */
class LatestValuesTest {
  @TempDir Path directory;
  @TempDir Path other;
  @TempDir Path exports;

  private static final ConfState CONF = ConfState.ofVoters(Set.of(1L, 2L, 3L));

  @Test
  void keptValuesFollowEveryApplyAndOlderViewsReadTheirOwnState() {
    try (StorageEngine engine = TestStores.open(directory)) {
      PartitionStore partition = engine.partition(1);
      put(partition, 1, "k", "v1");
      try (PartitionReadView view = partition.readView()) {
        assertThat(partition.currentValue(bytes("k"), view).orElseThrow().version()).isEqualTo(1);
        assertThat(partition.currentValue(bytes("missing"), view)).isEmpty();
      }
      try (PartitionReadView older = partition.readView()) {
        put(partition, 2, "k", "v2");
        put(partition, 3, "missing", "now here");
        // The older view is of index 1: it reads its own state and keeps nothing.
        assertThat(value(partition.currentValue(bytes("k"), older))).isEqualTo("v1");
        assertThat(partition.currentValue(bytes("missing"), older)).isEmpty();
      }
      try (PartitionReadView view = partition.readView()) {
        StoredValue k = partition.currentValue(bytes("k"), view).orElseThrow();
        assertThat(value(Optional.of(k))).isEqualTo("v2");
        assertThat(k.version()).isEqualTo(2);
        assertThat(k.createRevision()).isEqualTo(1);
        assertThat(value(partition.currentValue(bytes("missing"), view))).isEqualTo("now here");
      }
      partition.apply(
          new ApplyBatch(
              4,
              1,
              CONF,
              0,
              List.of(new Mutation.Delete(bytes("k"), 4)),
              List.of(new SessionRecord(7, 3, bytes("answer")))));
      try (PartitionReadView view = partition.readView()) {
        assertThat(partition.currentValue(bytes("k"), view)).isEmpty();
        assertThat(partition.currentSession(7, view).orElseThrow().lastSequence()).isEqualTo(3);
      }
      partition.apply(new ApplyBatch(5, 1, CONF, 0, List.of(), List.of(SessionRecord.removal(7))));
      try (PartitionReadView view = partition.readView()) {
        assertThat(partition.currentSession(7, view)).isEmpty();
        assertThat(view.session(7)).isEmpty();
      }
    }
  }

  @Test
  void theBoundHoldsAndEvictedKeysAreReadAgain() {
    try (StorageEngine engine = TestStores.open(directory)) {
      PartitionStore partition = engine.partition(1);
      String big = "x".repeat(16 * 1024);
      int keys = 300; // about 4.8 MiB of values, over the 1 MiB bound
      for (int i = 0; i < keys; i++) {
        put(partition, i + 1, "k" + i, big + i);
      }
      long held = partition.latestValuesHeld();
      assertThat(held).isGreaterThan(0);
      assertThat(held * (16 * 1024 + LatestValues.ENTRY_OVERHEAD_BYTES))
          .isLessThanOrEqualTo(PartitionStore.LATEST_VALUES_BYTES_MAX + 20 * 1024);
      try (PartitionReadView view = partition.readView()) {
        for (int i = 0; i < keys; i++) {
          assertThat(value(partition.currentValue(bytes("k" + i), view))).isEqualTo(big + i);
        }
      }
    }
  }

  @Test
  void aSnapshotInstallReplacesWhatWasKept() {
    Path snapshot = exports.resolve("g1");
    try (StorageEngine source = TestStores.open(other)) {
      put(source.partition(1), 50, "k", "from the snapshot");
      source.partition(1).exportSnapshot(snapshot);
    }
    try (StorageEngine engine = TestStores.open(directory)) {
      PartitionStore partition = engine.partition(1);
      put(partition, 1, "k", "before");
      put(partition, 2, "gone", "before");
      try (PartitionReadView view = partition.readView()) {
        assertThat(value(partition.currentValue(bytes("k"), view))).isEqualTo("before");
      }
      partition.installSnapshot(snapshot);
      try (PartitionReadView view = partition.readView()) {
        assertThat(value(partition.currentValue(bytes("k"), view))).isEqualTo("from the snapshot");
        assertThat(partition.currentValue(bytes("gone"), view)).isEmpty();
      }
    }
  }

  /** One put through the apply path: its previous value as the state machine would pass it. */
  private static void put(PartitionStore partition, long index, String key, String value) {
    Map<ByteBuffer, Optional<StoredValue>> known = new HashMap<>();
    try (PartitionReadView view = partition.readView()) {
      known.put(ByteBuffer.wrap(bytes(key)), partition.currentValue(bytes(key), view));
    }
    partition.apply(
        new ApplyBatch(
            index,
            1,
            CONF,
            0,
            List.of(new Mutation.Put(bytes(key), bytes(value), index)),
            List.of()),
        known);
  }

  private static String value(Optional<StoredValue> stored) {
    return new String(stored.orElseThrow().value(), StandardCharsets.UTF_8);
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }
}
