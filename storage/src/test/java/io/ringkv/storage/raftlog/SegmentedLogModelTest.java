package io.ringkv.storage.raftlog;

import static io.ringkv.storage.raftlog.RaftLogFixtures.entries;
import static org.assertj.core.api.Assertions.assertThat;

import io.ringkv.raft.Entry;
import io.ringkv.raft.HardState;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves that the segmented log, driven by random appends (some overwriting a suffix), truncations,
 * compactions, snapshot resets, hard states, destroys and reopens, always reads back what a plain
 * in-memory model of Raft logs holds, with segments small enough that rollover and purge happen all
 * the time: purge must never take a live entry, mark or hard state, and replay of what remains must
 * rebuild the same logs. Each seed is printed; {@code -Draftlog.model.seeds=N} runs N seeds, {@code
 * -Draftlog.model.seed=S} replays seed S.
 */
class SegmentedLogModelTest {
  private static final int GROUPS = 6;
  private static final int OPERATIONS_PER_SEED = 2_000;
  private static final int RECORDS_PER_WRITE_MAX = 6;

  @TempDir Path directory;

  /** One group's expected log. */
  private static final class ModelLog {
    long truncatedIndex;
    long truncatedTerm;
    final List<Entry> entries = new ArrayList<>();
    HardState hardState = HardState.EMPTY;

    long lastIndex() {
      return truncatedIndex + entries.size();
    }

    void dropFrom(long index) {
      while (lastIndex() >= index) {
        entries.removeLast();
      }
    }
  }

  @Test
  void randomOperationsMatchTheModelAcrossReopens() {
    int seeds = Integer.getInteger("raftlog.model.seeds", 2);
    String only = System.getProperty("raftlog.model.seed");
    for (int i = 0; i < (only == null ? seeds : 1); i++) {
      long seed = only == null ? 4_200 + i : Long.parseLong(only);
      System.out.println("SegmentedLogModelTest seed " + seed);
      run(seed, directory.resolve("seed-" + seed));
    }
  }

  private void run(long seed, Path path) {
    Random random = new Random(seed);
    SegmentedLogOptions options = RaftLogFixtures.small(path);
    Map<Long, ModelLog> model = new HashMap<>();
    long term = 1;
    SegmentedLog log = SegmentedLog.open(options);
    List<LogRecord> batch = new ArrayList<>();
    long purged = 0;
    try {
      for (int step = 0; step < OPERATIONS_PER_SEED; step++) {
        long group = 1 + random.nextInt(GROUPS);
        ModelLog expected = model.computeIfAbsent(group, g -> new ModelLog());
        int choice = random.nextInt(100);
        if (choice < 55) {
          boolean overwrite = random.nextInt(5) == 0 && !expected.entries.isEmpty();
          long first =
              overwrite
                  ? expected.truncatedIndex + 1 + random.nextInt(expected.entries.size())
                  : expected.lastIndex() + 1;
          if (overwrite) {
            term++;
          }
          List<Entry> appended = entries(group, first, 1 + random.nextInt(6), term);
          batch.add(new LogRecord.Entries(group, appended));
          expected.dropFrom(first);
          expected.entries.addAll(appended);
        } else if (choice < 62 && !expected.entries.isEmpty()) {
          long from = expected.truncatedIndex + 1 + random.nextInt(expected.entries.size());
          batch.add(new LogRecord.Truncate(group, from));
          expected.dropFrom(from);
        } else if (choice < 80 && !expected.entries.isEmpty()) {
          long index = expected.truncatedIndex + 1 + random.nextInt(expected.entries.size());
          expected.truncatedTerm =
              expected.entries.get((int) (index - expected.truncatedIndex - 1)).term();
          batch.add(new LogRecord.CompactMark(group, index, expected.truncatedTerm, false));
          expected.entries.subList(0, (int) (index - expected.truncatedIndex)).clear();
          expected.truncatedIndex = index;
        } else if (choice < 84) {
          long index = expected.lastIndex() + random.nextInt(5);
          term++;
          batch.add(new LogRecord.CompactMark(group, index, term, true));
          expected.entries.clear();
          expected.truncatedIndex = index;
          expected.truncatedTerm = term;
        } else if (choice < 94) {
          HardState next = new HardState(term, random.nextInt(3), random.nextInt(100));
          batch.add(new LogRecord.HardStateMark(group, next));
          expected.hardState = next;
        } else if (choice < 97) {
          batch.add(new LogRecord.Destroy(group));
          model.remove(group);
        } else {
          flush(log, batch);
          purged += log.segmentsPurged();
          log.close();
          log = SegmentedLog.open(options);
          check(log, model, seed, step);
        }
        if (batch.size() >= 1 + random.nextInt(RECORDS_PER_WRITE_MAX)) {
          flush(log, batch);
        }
      }
      flush(log, batch);
      check(log, model, seed, OPERATIONS_PER_SEED);
      System.out.printf(
          "  seed %d: %d segments purged, segments %s left%n",
          seed, purged + log.segmentsPurged(), log.segmentSequences());
      log.close();
      log = SegmentedLog.open(options);
      check(log, model, seed, OPERATIONS_PER_SEED);
    } finally {
      log.close();
    }
  }

  private static void flush(SegmentedLog log, List<LogRecord> batch) {
    if (!batch.isEmpty()) {
      log.write(batch);
      batch.clear();
    }
  }

  private static void check(SegmentedLog log, Map<Long, ModelLog> model, long seed, int step) {
    for (long group = 1; group <= GROUPS; group++) {
      ModelLog expected = model.getOrDefault(group, new ModelLog());
      String at = "seed " + seed + " step " + step + " group " + group;
      assertThat(log.firstIndex(group)).as(at).isEqualTo(expected.truncatedIndex + 1);
      assertThat(log.lastIndex(group)).as(at).isEqualTo(expected.lastIndex());
      assertThat(log.hardState(group)).as(at).isEqualTo(expected.hardState);
      if (expected.truncatedIndex > 0) {
        assertThat(log.term(group, expected.truncatedIndex))
            .as(at)
            .isEqualTo(expected.truncatedTerm);
      }
      assertThat(
              log.entries(
                  group, expected.truncatedIndex + 1, expected.lastIndex() + 1, Long.MAX_VALUE))
          .as(at)
          .isEqualTo(expected.entries);
    }
  }
}
