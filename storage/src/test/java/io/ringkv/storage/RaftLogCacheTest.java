package io.ringkv.storage;

import static io.ringkv.storage.TestStores.entries;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.ringkv.raft.ConfState;
import io.ringkv.raft.Entry;
import io.ringkv.raft.EntryType;
import io.ringkv.raft.LogCompactedException;
import io.ringkv.raft.LogUnavailableException;
import io.ringkv.raft.SnapshotMetadata;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.TickerType;

/**
 * Proves the in-memory tail of the Raft log stays exactly consistent with the durable log.
 *
 * <p>A seeded random run (seed printed; replay with {@code -Dseed=N}) drives a store whose cache
 * holds only a few entries and bytes, so entries are evicted, cached runs restart and reads
 * straddle cache and RocksDB, through appends, conflicting suffix replacements, several writes of
 * the group in one commit, compactions, snapshot installs and reopens; after every step {@code
 * firstIndex}, {@code lastIndex}, every {@code term} and random byte-bounded {@code entries} reads
 * must equal a naive in-memory log. RocksDB's own statistics then show that reads of cached indexes
 * do no point read or seek at all, while reads below the cache still go to RocksDB.
 */
class RaftLogCacheTest {
  private static final long GROUP = 3;
  private static final int STEPS = 400;

  @TempDir Path directory;

  @Test
  void randomOperationsMatchANaiveLog() {
    long seed = Long.getLong("seed", System.nanoTime());
    System.out.println("RaftLogCacheTest seed " + seed + " (replay with -Dseed=" + seed + ")");
    SplittableRandom random = new SplittableRandom(seed);
    StorageOptions options =
        TestStores.options(directory)
            .logCacheEntriesMax(1 + random.nextInt(8))
            .logCacheSizeBytesMax(40 + random.nextInt(400))
            .build();
    System.out.println(
        "cache bounds: "
            + options.logCacheEntriesMax()
            + " entries, "
            + options.logCacheSizeBytesMax()
            + " bytes");
    ReferenceLog reference = new ReferenceLog();
    StorageEngine engine = StorageEngine.open(options);
    try {
      for (int step = 0; step < STEPS; step++) {
        int choice = random.nextInt(100);
        String operation;
        if (choice < 45) {
          operation = append(engine, reference, random, reference.lastIndex + 1);
        } else if (choice < 65) {
          long first = reference.firstIndex() + random.nextLong(reference.length() + 1);
          operation = append(engine, reference, random, first);
        } else if (choice < 72) {
          operation = twoWritesInOneCommit(engine, reference, random);
        } else if (choice < 85) {
          long index = reference.truncatedIndex + random.nextLong(reference.length() + 1);
          engine.raftLog(GROUP).compact(index);
          reference.compact(index);
          operation = "compact " + index;
        } else if (choice < 93) {
          operation = installSnapshot(engine, reference, random);
        } else {
          engine.close();
          engine = StorageEngine.open(options);
          operation = "reopen";
        }
        compare(
            engine.raftLog(GROUP),
            reference,
            random,
            "seed " + seed + " step " + step + " " + operation);
      }
    } finally {
      engine.close();
    }
  }

  private static String append(
      StorageEngine engine, ReferenceLog reference, SplittableRandom random, long first) {
    List<Entry> batch = reference.newEntries(random, first, 1 + random.nextInt(6));
    engine.groupCommitter().submit(LogWrite.of(GROUP, batch, null)).join();
    reference.append(batch);
    return "append " + first + ".." + batch.getLast().index();
  }

  /** Two writes of the same group in one fsync: the second is planned against the first. */
  private static String twoWritesInOneCommit(
      StorageEngine engine, ReferenceLog reference, SplittableRandom random) {
    List<Entry> firstBatch =
        reference.newEntries(random, reference.lastIndex + 1, 1 + random.nextInt(4));
    ReferenceLog staged = reference.copy();
    staged.append(firstBatch);
    long second = staged.firstIndex() + random.nextLong(staged.length() + 1);
    List<Entry> secondBatch = staged.newEntries(random, second, 1 + random.nextInt(4));
    engine
        .groupCommitter()
        .commit(
            List.of(LogWrite.of(GROUP, firstBatch, null), LogWrite.of(GROUP, secondBatch, null)));
    reference.append(firstBatch);
    reference.append(secondBatch);
    return "commit " + firstBatch.getFirst().index() + "+, then " + second + "+";
  }

  /**
   * A received snapshot anywhere (behind, inside or beyond the log), maybe with entries after it.
   */
  private static String installSnapshot(
      StorageEngine engine, ReferenceLog reference, SplittableRandom random) {
    long index = Math.max(1, reference.lastIndex - 3 + random.nextLong(10));
    long term = Math.max(reference.lastTerm(), 1) + random.nextInt(2);
    SnapshotMetadata metadata = new SnapshotMetadata(index, term, ConfState.ofVoters(Set.of(1L)));
    ReferenceLog after = new ReferenceLog();
    after.truncatedIndex = index;
    after.truncatedTerm = term;
    after.lastIndex = index;
    List<Entry> following =
        random.nextBoolean()
            ? List.of()
            : after.newEntries(random, index + 1, 1 + random.nextInt(4));
    engine.groupCommitter().submit(new LogWrite(GROUP, metadata, following, null, null)).join();
    reference.installSnapshot(index, term);
    reference.append(following);
    return "snapshot " + index + "/" + term + " + " + following.size();
  }

  private static void compare(
      RaftLogStore log, ReferenceLog reference, SplittableRandom random, String context) {
    assertThat(log.firstIndex()).as(context).isEqualTo(reference.firstIndex());
    assertThat(log.lastIndex()).as(context).isEqualTo(reference.lastIndex);
    for (long index = reference.truncatedIndex; index <= reference.lastIndex; index++) {
      assertThat(log.term(index))
          .as(context + " term(" + index + ")")
          .isEqualTo(reference.term(index));
    }
    long below = reference.truncatedIndex - 1;
    if (below >= 0) {
      assertThatThrownBy(() -> log.term(below)).isInstanceOf(LogCompactedException.class);
    }
    assertThatThrownBy(() -> log.term(reference.lastIndex + 1))
        .isInstanceOf(LogUnavailableException.class);
    for (int read = 0; read < 4; read++) {
      long low = reference.firstIndex() + random.nextLong(reference.length() + 1);
      long high = low + random.nextLong(reference.lastIndex + 2 - low);
      long sizeBytesMax = random.nextBoolean() ? Long.MAX_VALUE : random.nextLong(300);
      assertThat(log.entries(low, high, sizeBytesMax))
          .as(context + " entries(" + low + ", " + high + ", " + sizeBytesMax + ")")
          .isEqualTo(reference.entries(low, high, sizeBytesMax));
    }
  }

  @Test
  void cachedReadsDoNoRocksDbReadsAndOlderReadsStillDo() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    StorageOptions options =
        TestStores.options(directory).logCacheEntriesMax(8).meterRegistry(registry).build();
    try (StorageEngine engine = StorageEngine.open(options)) {
      RaftLogStore log = engine.raftLog(GROUP);
      engine.groupCommitter().submit(LogWrite.of(GROUP, entries(1, 20, 1), null)).join();
      Store store = engine.store();
      long getsBefore = store.tickerCount(TickerType.NUMBER_KEYS_READ);
      long seeksBefore = store.tickerCount(TickerType.NUMBER_DB_SEEK);

      for (long index = 13; index <= 20; index++) {
        assertThat(log.term(index)).isEqualTo(1);
      }
      assertThat(log.entries(13, 21, Long.MAX_VALUE)).isEqualTo(entries(13, 20, 1));
      assertThat(store.tickerCount(TickerType.NUMBER_KEYS_READ)).isEqualTo(getsBefore);
      assertThat(store.tickerCount(TickerType.NUMBER_DB_SEEK)).isEqualTo(seeksBefore);
      assertThat(reads(registry, "hit")).isEqualTo(9);
      assertThat(reads(registry, "miss")).isZero();

      // Index 12 was evicted (8 entries kept): its term and a read straddling both come from disk.
      assertThat(log.term(12)).isEqualTo(1);
      assertThat(store.tickerCount(TickerType.NUMBER_KEYS_READ)).isEqualTo(getsBefore + 1);
      assertThat(log.entries(10, 21, Long.MAX_VALUE)).isEqualTo(entries(10, 20, 1));
      assertThat(store.tickerCount(TickerType.NUMBER_DB_SEEK)).isEqualTo(seeksBefore + 1);
      assertThat(reads(registry, "miss")).isEqualTo(2);
    }
  }

  @Test
  void cacheOffMeansEveryReadGoesToRocksDb() {
    StorageOptions options = TestStores.options(directory).logCacheEntriesMax(0).build();
    try (StorageEngine engine = StorageEngine.open(options)) {
      RaftLogStore log = engine.raftLog(GROUP);
      engine.groupCommitter().submit(LogWrite.of(GROUP, entries(1, 5, 2), null)).join();
      long getsBefore = engine.store().tickerCount(TickerType.NUMBER_KEYS_READ);
      assertThat(log.term(5)).isEqualTo(2);
      assertThat(engine.store().tickerCount(TickerType.NUMBER_KEYS_READ)).isEqualTo(getsBefore + 1);
    }
  }

  @Test
  void cacheRespectsBothBoundsAndDropsAnEntryLargerThanTheByteBound() {
    RaftLogCache cache = new RaftLogCache(4, 120);
    cache.append(entries(1, 10, 1));
    assertThat(cache.size()).isEqualTo(4);
    assertThat(cache.firstIndex()).isEqualTo(7);
    assertThat(cache.sizeBytes()).isLessThanOrEqualTo(120);
    cache.append(List.of(new Entry(2, 9, EntryType.NORMAL, new byte[60])));
    assertThat(cache.lastIndex()).isEqualTo(9);
    assertThat(cache.get(9).term()).isEqualTo(2);
    assertThat(cache.sizeBytes()).isLessThanOrEqualTo(120);
    cache.append(List.of(new Entry(2, 10, EntryType.NORMAL, new byte[200])));
    assertThat(cache.isEmpty()).isTrue();
  }

  private static double reads(SimpleMeterRegistry registry, String result) {
    return registry.counter("ringkv.storage.log.cache.reads", "result", result).count();
  }

  /** The obvious log: a sorted map of entries after a truncated position. */
  private static final class ReferenceLog {
    final TreeMap<Long, Entry> entries = new TreeMap<>();
    long truncatedIndex;
    long truncatedTerm;
    long lastIndex;

    long firstIndex() {
      return truncatedIndex + 1;
    }

    long length() {
      return lastIndex - truncatedIndex;
    }

    long term(long index) {
      return index == truncatedIndex ? truncatedTerm : entries.get(index).term();
    }

    long lastTerm() {
      return term(lastIndex);
    }

    ReferenceLog copy() {
      ReferenceLog copy = new ReferenceLog();
      copy.entries.putAll(entries);
      copy.truncatedIndex = truncatedIndex;
      copy.truncatedTerm = truncatedTerm;
      copy.lastIndex = lastIndex;
      return copy;
    }

    /** Entries from {@code first}, terms never below the entry before them, random sizes. */
    List<Entry> newEntries(SplittableRandom random, long first, int count) {
      long term = term(first - 1) + (first <= lastIndex ? 1 : random.nextInt(2));
      term = Math.max(term, Math.max(1, lastTerm()));
      List<Entry> batch = new ArrayList<>();
      for (long index = first; index < first + count; index++) {
        byte[] data = new byte[random.nextInt(120)];
        random.nextBytes(data);
        batch.add(new Entry(term, index, EntryType.NORMAL, data));
      }
      return batch;
    }

    void append(List<Entry> batch) {
      if (batch.isEmpty()) {
        return;
      }
      entries.tailMap(batch.getFirst().index(), true).clear();
      for (Entry entry : batch) {
        entries.put(entry.index(), entry);
      }
      lastIndex = batch.getLast().index();
    }

    void compact(long index) {
      if (index <= truncatedIndex) {
        return;
      }
      truncatedTerm = term(index);
      truncatedIndex = index;
      entries.headMap(index, true).clear();
    }

    void installSnapshot(long index, long term) {
      entries.clear();
      truncatedIndex = index;
      truncatedTerm = term;
      lastIndex = index;
    }

    List<Entry> entries(long low, long high, long sizeBytesMax) {
      List<Entry> result = new ArrayList<>();
      long sizeBytes = 0;
      for (long index = low; index < high; index++) {
        Entry entry = entries.get(index);
        sizeBytes += entry.sizeBytes();
        if (!result.isEmpty() && sizeBytes > sizeBytesMax) {
          break;
        }
        result.add(entry);
      }
      return result;
    }
  }
}
