package io.ringkv.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import io.ringkv.proto.v1.KeyValue;
import io.ringkv.proto.v1.ScanResponse;
import io.ringkv.storage.ApplyBatch;
import io.ringkv.storage.Mutation;
import io.ringkv.storage.PartitionReadView;
import io.ringkv.storage.ScanRange;
import io.ringkv.storage.StorageEngine;
import io.ringkv.storage.StorageOptions;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves the merged page of several partitions on a real RocksDB store against the obvious answer
 * (every pair of the range, sorted, the first {@code limit} taken): random key spreads (even, and
 * all keys in one partition), random ranges, limits, byte budgets and keys-only pages, and that a
 * write after the views were opened is not seen. Prints its seed.
 */
class PartitionPageMergeTest {
  private static final int PARTITIONS = 7;
  private static final int OVERHEAD = ScanFanOut.PAIR_OVERHEAD_BYTES;
  @TempDir Path directory;
  private StorageEngine engine;
  private final long[] applied = new long[PARTITIONS];

  /** Every pair written, by key: the reference. */
  private final TreeMap<String, String> all = new TreeMap<>();

  /** Each key's revision (the index of its one write). ASCII keys sort as the store's bytes do. */
  private final TreeMap<String, Long> revisions = new TreeMap<>();

  @BeforeEach
  void open() {
    engine = StorageEngine.open(StorageOptions.builder(directory, "test", 1).build());
  }

  @AfterEach
  void close() {
    engine.close();
  }

  @Test
  void mergedPagesEqualTheSortedUnionOfThePartitions() {
    long seed = Long.getLong("seed", System.nanoTime());
    System.out.println("PartitionPageMergeTest seed " + seed + " (replay: -Dseed=" + seed + ")");
    Random random = new Random(seed);
    for (int i = 0; i < 600; i++) {
      String key = String.format("k%04d", random.nextInt(5_000));
      // Most keys spread over the partitions; a run of keys all in partition 0 (a skewed range).
      int partition =
          key.compareTo("k3000") >= 0 && key.compareTo("k3400") < 0 ? 0 : i % PARTITIONS;
      if (all.containsKey(key)) {
        continue;
      }
      put(partition, key, "v".repeat(1 + random.nextInt(40)) + i);
    }
    for (int round = 0; round < 300; round++) {
      String start = String.format("k%04d", random.nextInt(5_200));
      String end = random.nextInt(4) == 0 ? null : String.format("k%04d", random.nextInt(5_200));
      int limit = 1 + random.nextInt(random.nextBoolean() ? 10 : 150);
      long bytesMax = random.nextInt(3) == 0 ? 200 + random.nextInt(2_000) : 1 << 20;
      boolean keysOnly = random.nextInt(5) == 0;
      check(start, end, limit, bytesMax, keysOnly, "seed " + seed + " round " + round);
    }
  }

  @Test
  void aPartitionsPairsAreReadFromTheViewOpenedFirst() {
    for (int i = 0; i < 40; i++) {
      put(i % PARTITIONS, String.format("a%03d", i), "old");
    }
    List<PartitionReadView> views = views();
    try {
      for (int i = 0; i < 40; i++) {
        put(i % PARTITIONS, String.format("a%03d", i), "new");
      }
      put(0, "a000x", "inserted after the views");
      ScanResponse page =
          PartitionPageMerge.merge(
              views, ScanRange.prefix(bytes("a")), 100, 1 << 20, OVERHEAD, false, PARTITIONS);
      assertThat(page.getKvsCount()).isEqualTo(40);
      assertThat(page.getKvsList())
          .allSatisfy(kv -> assertThat(kv.getValue().toStringUtf8()).isEqualTo("old"));
      assertThat(page.getMore()).isFalse();
    } finally {
      views.forEach(PartitionReadView::close);
    }
  }

  private void check(
      String start, String end, int limit, long bytesMax, boolean keysOnly, String what) {
    List<PartitionReadView> views = views();
    ScanResponse page;
    try {
      page =
          PartitionPageMerge.merge(
              views,
              new ScanRange(bytes(start), end == null ? null : bytes(end)),
              limit,
              bytesMax,
              OVERHEAD,
              keysOnly,
              PARTITIONS);
    } finally {
      views.forEach(PartitionReadView::close);
    }
    List<String> expected = new ArrayList<>();
    var inRange =
        end == null
            ? all.tailMap(start, true)
            : end.compareTo(start) <= 0
                ? new TreeMap<String, String>()
                : all.subMap(start, true, end, false);
    long bytes = 0;
    boolean more = false;
    for (var pair : inRange.entrySet()) {
      long revision = revisions.get(pair.getKey());
      long size =
          CodedOutputStream.computeMessageSize(
              ScanResponse.KVS_FIELD_NUMBER,
              KeyValue.newBuilder()
                  .setKey(ByteString.copyFromUtf8(pair.getKey()))
                  .setValue(keysOnly ? ByteString.EMPTY : ByteString.copyFromUtf8(pair.getValue()))
                  .setCreateRevision(revision)
                  .setModRevision(revision)
                  .setVersion(1)
                  .build());
      if (expected.size() == limit || bytes + size > bytesMax) {
        more = true;
        break;
      }
      bytes += size;
      expected.add(pair.getKey());
    }
    List<String> got = page.getKvsList().stream().map(kv -> kv.getKey().toStringUtf8()).toList();
    assertThat(got).as(what).isEqualTo(expected);
    assertThat(page.getMore()).as(what + " more").isEqualTo(more);
    if (more) {
      assertThat(page.getNextKey().toStringUtf8()).as(what).isEqualTo(expected.getLast() + "\0");
    }
    for (KeyValue kv : page.getKvsList()) {
      String value = all.get(kv.getKey().toStringUtf8());
      assertThat(kv.getValue().toStringUtf8()).as(what).isEqualTo(keysOnly ? "" : value);
      assertThat(kv.getModRevision()).as(what).isEqualTo(revisions.get(kv.getKey().toStringUtf8()));
    }
  }

  private List<PartitionReadView> views() {
    List<PartitionReadView> views = new ArrayList<>();
    for (int partition = 0; partition < PARTITIONS; partition++) {
      views.add(engine.partition(partition).readView());
    }
    return views;
  }

  private void put(int partition, String key, String value) {
    long index = ++applied[partition];
    engine
        .partition(partition)
        .apply(
            ApplyBatch.of(index, 1, 0, List.of(new Mutation.Put(bytes(key), bytes(value), index))));
    all.put(key, value);
    revisions.put(key, index);
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }
}
