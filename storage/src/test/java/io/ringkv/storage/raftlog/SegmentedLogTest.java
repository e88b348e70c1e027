package io.ringkv.storage.raftlog;

import static io.ringkv.storage.raftlog.RaftLogFixtures.append;
import static io.ringkv.storage.raftlog.RaftLogFixtures.entries;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ringkv.raft.Entry;
import io.ringkv.raft.HardState;
import io.ringkv.raft.LogCompactedException;
import io.ringkv.storage.StorageException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves the segmented Raft log's behaviour one feature at a time, each across a reopen: entries
 * and hard states of many groups in one stream; suffix truncation (an append that overwrites from
 * index i, and an explicit truncate); compaction with the term below the first index kept; purge of
 * whole segments once compacted, with marks and hard states still right after the old segments are
 * gone; destroy then re-create of a group id that sees none of the old records; appends that do not
 * fit rejected without writing anything; group commit (many submitted writes, fewer fsyncs); a
 * batch larger than a segment; a foreign file refused; readers racing compaction and purge; and an
 * idle group's entries rewritten at the tail so it never pins old segments.
 */
class SegmentedLogTest {
  @TempDir Path directory;

  @Test
  void groupsShareOneStreamAndSurviveReopen() {
    SegmentedLogOptions options = SegmentedLogOptions.defaults(directory);
    try (SegmentedLog log = SegmentedLog.open(options)) {
      log.write(List.of(append(1, 1, 5, 1), append(2, 1, 3, 1), hard(1, 1, 0, 5)));
      log.write(List.of(append(2, 4, 2, 2), hard(2, 2, 3, 5)));
      assertThat(log.fsyncCount()).isEqualTo(2);
    }
    try (SegmentedLog log = SegmentedLog.open(options)) {
      assertThat(log.lastIndex(1)).isEqualTo(5);
      assertThat(log.lastIndex(2)).isEqualTo(5);
      assertThat(log.term(2, 5)).isEqualTo(2);
      assertThat(log.hardState(1)).isEqualTo(new HardState(1, 0, 5));
      assertThat(log.hardState(2)).isEqualTo(new HardState(2, 3, 5));
      List<Entry> expected = new ArrayList<>(entries(2, 1, 3, 1));
      expected.addAll(entries(2, 4, 2, 2));
      assertThat(log.entries(2, 1, 6, Long.MAX_VALUE)).isEqualTo(expected);
      assertThat(log.entries(2, 1, 6, 1)).hasSize(1);
    }
  }

  @Test
  void anUnsyncedBatchTakesNoFsyncAndIsKeptAcrossARolloverAndReopen() {
    SegmentedLogOptions options = RaftLogFixtures.small(directory);
    long segmentsBefore;
    try (SegmentedLog log = SegmentedLog.open(options)) {
      log.write(List.of(append(1, 1, 5, 1), hard(1, 1, 1, 1)));
      log.write(List.of(hard(1, 1, 1, 5)), false);
      assertThat(log.fsyncCount()).isEqualTo(1);
      assertThat(log.hardState(1)).isEqualTo(new HardState(1, 1, 5));
      segmentsBefore = log.segmentSequences().getLast();
      long next = 1;
      for (int round = 0; round < 10; round++) {
        log.write(List.of(append(2, next, 20, 1)));
        next += 20;
      }
      assertThat(log.segmentSequences().getLast()).as("rolled over").isGreaterThan(segmentsBefore);
      assertThat(log.fsyncCount()).isEqualTo(11);
    }
    try (SegmentedLog log = SegmentedLog.open(options)) {
      assertThat(log.hardState(1)).isEqualTo(new HardState(1, 1, 5));
      assertThat(log.lastIndex(1)).isEqualTo(5);
    }
  }

  @Test
  void suffixTruncationReplacesTheTailAcrossReopen() {
    SegmentedLogOptions options = SegmentedLogOptions.defaults(directory);
    try (SegmentedLog log = SegmentedLog.open(options)) {
      log.write(List.of(append(1, 1, 10, 1)));
      log.write(List.of(append(1, 6, 2, 2))); // a new leader overwrites 6.. with a shorter tail
      assertThat(log.lastIndex(1)).isEqualTo(7);
      log.write(List.of(new LogRecord.Truncate(1, 7)));
      assertThat(log.lastIndex(1)).isEqualTo(6);
    }
    try (SegmentedLog log = SegmentedLog.open(options)) {
      assertThat(log.lastIndex(1)).isEqualTo(6);
      assertThat(log.entries(1, 5, 7, Long.MAX_VALUE))
          .containsExactly(entries(1, 5, 1, 1).getFirst(), entries(1, 6, 1, 2).getFirst());
    }
  }

  @Test
  void compactionKeepsTheTermBelowTheFirstIndex() {
    SegmentedLogOptions options = SegmentedLogOptions.defaults(directory);
    try (SegmentedLog log = SegmentedLog.open(options)) {
      log.write(List.of(append(1, 1, 10, 3)));
      log.compact(1, 4).join();
      assertThat(log.firstIndex(1)).isEqualTo(5);
      assertThatThrownBy(() -> log.entries(1, 4, 6, Long.MAX_VALUE))
          .isInstanceOf(LogCompactedException.class);
    }
    try (SegmentedLog log = SegmentedLog.open(options)) {
      assertThat(log.firstIndex(1)).isEqualTo(5);
      assertThat(log.term(1, 4)).isEqualTo(3);
      assertThat(log.entries(1, 5, 11, Long.MAX_VALUE)).isEqualTo(entries(1, 5, 6, 3));
    }
  }

  @Test
  void idleGroupIsRewrittenSoItPinsNoOldSegment() {
    SegmentedLogOptions options = RaftLogFixtures.small(directory);
    try (SegmentedLog log = SegmentedLog.open(options)) {
      // Group 2 writes three entries and never compacts (an idle partition): without a rewrite its
      // entries in segment 1 would keep every segment from 1 on.
      log.write(List.of(append(2, 1, 3, 1), hard(2, 1, 1, 3)));
      long next = 1;
      for (int round = 0; round < 40; round++) {
        log.write(List.of(append(1, next, 20, 1), hard(1, 1, 1, next + 19)));
        next += 20;
        log.compact(1, next - 5).join();
      }
      assertThat(log.segmentsPurged()).as("segments purged").isPositive();
      assertThat(log.groupsRewritten()).isPositive();
      assertThat(log.segmentSequences())
          .hasSizeLessThanOrEqualTo(SegmentedLog.REWRITE_AFTER_SEGMENTS + 1);
    }
    try (SegmentedLog log = SegmentedLog.open(options)) {
      assertThat(log.entries(2, 1, 4, Long.MAX_VALUE)).isEqualTo(entries(2, 1, 3, 1));
      assertThat(log.hardState(2)).isEqualTo(new HardState(1, 1, 3));
      assertThat(log.lastIndex(1)).isEqualTo(800);
    }
  }

  @Test
  void aGroupWithManyLiveEntriesIsNotRewrittenByPurge() {
    SegmentedLogOptions options = RaftLogFixtures.small(directory);
    int manyEntries = (int) SegmentedLog.REWRITE_ENTRIES_MAX + 1;
    try (SegmentedLog log = SegmentedLog.open(options)) {
      // Group 2 holds more live entries than purge may rewrite and never compacts: purge must leave
      // it (it runs on the writer thread; a whole large log read there stalled group commits).
      log.write(List.of(append(2, 1, manyEntries, 1), hard(2, 1, 1, manyEntries)));
      long next = 1;
      for (int round = 0; round < 40; round++) {
        log.write(List.of(append(1, next, 20, 1), hard(1, 1, 1, next + 19)));
        next += 20;
        log.compact(1, next - 5).join();
      }
      assertThat(log.groupsRewritten()).as("groups rewritten").isZero();
    }
    try (SegmentedLog log = SegmentedLog.open(options)) {
      assertThat(log.entries(2, 1, manyEntries + 1, Long.MAX_VALUE))
          .isEqualTo(entries(2, 1, manyEntries, 1));
      assertThat(log.lastIndex(1)).isEqualTo(800);
    }
  }

  @Test
  void compactedSegmentsArePurgedAndStateSurvivesWithoutThem() {
    SegmentedLogOptions options = RaftLogFixtures.small(directory);
    try (SegmentedLog log = SegmentedLog.open(options)) {
      // Group 2 writes once (entries, hard state) and then only compacts: its mark and hard state
      // must be written again before the segment holding them goes.
      log.write(List.of(append(2, 1, 3, 1), hard(2, 1, 1, 3)));
      log.compact(2, 3).join();
      long next = 1;
      for (int round = 0; round < 40; round++) {
        log.write(List.of(append(1, next, 20, 1), hard(1, 1, 1, next + 19)));
        next += 20;
        log.compact(1, next - 5).join();
      }
      assertThat(log.segmentsPurged()).isPositive();
      assertThat(log.segmentSequences().getFirst()).isGreaterThan(1);
    }
    try (SegmentedLog log = SegmentedLog.open(options)) {
      assertThat(log.firstIndex(1)).isEqualTo(797);
      assertThat(log.lastIndex(1)).isEqualTo(800);
      assertThat(log.term(1, 796)).isEqualTo(1);
      assertThat(log.entries(1, 797, 801, Long.MAX_VALUE)).isEqualTo(entries(1, 797, 4, 1));
      assertThat(log.hardState(1)).isEqualTo(new HardState(1, 1, 800));
      assertThat(log.firstIndex(2)).isEqualTo(4);
      assertThat(log.lastIndex(2)).isEqualTo(3);
      assertThat(log.term(2, 3)).isEqualTo(1);
      assertThat(log.hardState(2)).isEqualTo(new HardState(1, 1, 3));
    }
  }

  @Test
  void destroyedGroupIsPurgedAndARecreatedGroupSeesNoOldRecord() {
    SegmentedLogOptions options = RaftLogFixtures.small(directory);
    try (SegmentedLog log = SegmentedLog.open(options)) {
      log.write(List.of(append(9, 1, 50, 4), hard(9, 4, 2, 50)));
      log.destroy(9).join();
      assertThat(log.lastIndex(9)).isZero();
      assertThat(log.hardState(9)).isEqualTo(HardState.EMPTY);
      log.write(List.of(append(9, 1, 2, 1)));
      for (long first = 1; log.segmentsPurged() == 0 && first < 10_000; first += 20) {
        log.write(List.of(append(1, first, 20, 1)));
        log.compact(1, first + 19).join();
      }
      // The new incarnation's entries are written again at the tail before their segment goes
      // (group 9 is idle from here on); the old incarnation's are dead and never come back.
      assertThat(log.segmentsPurged()).isPositive();
      assertThat(log.groupsRewritten()).isPositive();
    }
    try (SegmentedLog log = SegmentedLog.open(options)) {
      assertThat(log.lastIndex(9)).isEqualTo(2);
      assertThat(log.hardState(9)).isEqualTo(HardState.EMPTY);
      assertThat(log.entries(9, 1, 3, Long.MAX_VALUE)).isEqualTo(entries(9, 1, 2, 1));
      log.destroy(9).join();
      for (long first = log.lastIndex(1) + 1; log.segmentsPurged() == 0; first += 20) {
        log.write(List.of(append(1, first, 20, 1)));
        log.compact(1, first + 19).join();
      }
    }
    try (SegmentedLog log = SegmentedLog.open(options)) {
      assertThat(log.groupIds()).doesNotContain(9L);
    }
  }

  @Test
  void anAppendThatDoesNotFitIsRejectedAndNothingOfItsWriteIsWritten() {
    try (SegmentedLog log = SegmentedLog.open(SegmentedLogOptions.defaults(directory))) {
      log.write(List.of(append(1, 1, 3, 1)));
      CompletableFuture<Void> gap = log.submit(List.of(append(2, 1, 1, 1), append(1, 5, 1, 1)));
      assertThatThrownBy(gap::join).hasCauseInstanceOf(StorageException.class);
      assertThat(log.lastIndex(2)).isZero();
      assertThat(log.lastIndex(1)).isEqualTo(3);
      log.compact(1, 2).join();
      assertThatThrownBy(() -> log.write(List.of(append(1, 2, 1, 1))))
          .hasMessageContaining("does not fit");
    }
  }

  @Test
  void concurrentWritersShareFsyncs() throws Exception {
    int writers = 8;
    int writesPerWriter = 200;
    try (SegmentedLog log = SegmentedLog.open(SegmentedLogOptions.defaults(directory))) {
      List<Thread> threads = new ArrayList<>();
      for (int w = 0; w < writers; w++) {
        long group = w + 1;
        threads.add(
            Thread.ofPlatform()
                .start(() -> {
                  List<CompletableFuture<Void>> futures = new ArrayList<>();
                  for (int i = 0; i < writesPerWriter; i++) {
                    futures.add(log.submit(List.of(append(group, i + 1, 1, 1))));
                  }
                  futures.forEach(CompletableFuture::join);
                }));
      }
      for (Thread thread : threads) {
        thread.join();
      }
      assertThat(log.recordsWritten()).isEqualTo((long) writers * writesPerWriter);
      assertThat(log.fsyncCount()).isLessThan((long) writers * writesPerWriter);
      for (long group = 1; group <= writers; group++) {
        assertThat(log.lastIndex(group)).isEqualTo(writesPerWriter);
      }
    }
  }

  @Test
  void aBatchLargerThanASegmentGetsASegmentOfItsOwn() {
    SegmentedLogOptions options = RaftLogFixtures.small(directory);
    List<Entry> big = new ArrayList<>();
    for (long index = 1; index <= 4; index++) {
      big.add(
          new Entry(
              1,
              index,
              io.ringkv.raft.EntryType.NORMAL,
              new byte[(int) RaftLogFixtures.SMALL_SEGMENT_SIZE_BYTES]));
    }
    try (SegmentedLog log = SegmentedLog.open(options)) {
      log.write(List.of(append(1, 1, 2, 1)));
      log.write(List.of(new LogRecord.Entries(2, big)));
      log.write(List.of(append(1, 3, 2, 1)));
      assertThat(log.segmentSequences()).hasSizeGreaterThanOrEqualTo(3);
    }
    try (SegmentedLog log = SegmentedLog.open(options)) {
      assertThat(log.entries(2, 1, 5, Long.MAX_VALUE)).isEqualTo(big);
      assertThat(log.entries(1, 1, 5, Long.MAX_VALUE)).isEqualTo(entries(1, 1, 4, 1));
    }
  }

  @Test
  void aFileThatIsNotASegmentOfOursRefusesToOpen() throws Exception {
    java.nio.file.Files.write(
        directory.resolve(Segment.fileName(1)), new byte[Segment.HEADER_SIZE_BYTES * 4]);
    assertThatThrownBy(() -> SegmentedLog.open(SegmentedLogOptions.defaults(directory)).close())
        .isInstanceOf(CorruptLogException.class)
        .hasMessageContaining(Segment.fileName(1))
        .hasMessageContaining("bad magic");
  }

  @Test
  void readersRacingCompactionAndPurgeSeeEntriesOrACompactedError() throws Exception {
    int rounds = 300;
    java.util.concurrent.atomic.AtomicBoolean done =
        new java.util.concurrent.atomic.AtomicBoolean();
    java.util.concurrent.atomic.AtomicLong reads = new java.util.concurrent.atomic.AtomicLong();
    java.util.concurrent.atomic.AtomicReference<Throwable> unexpected =
        new java.util.concurrent.atomic.AtomicReference<>();
    try (SegmentedLog log = SegmentedLog.open(RaftLogFixtures.small(directory))) {
      log.write(List.of(append(1, 1, 10, 1)));
      Thread reader =
          Thread.ofPlatform()
              .start(() -> {
                while (!done.get()) {
                  long first = log.firstIndex(1);
                  try {
                    List<Entry> read = log.entries(1, first, first + 5, Long.MAX_VALUE);
                    assertThat(read.getFirst().index()).isEqualTo(first);
                    reads.incrementAndGet();
                  } catch (LogCompactedException e) {
                    // compacted between the two calls: the normal race
                  } catch (Throwable e) {
                    unexpected.compareAndSet(null, e);
                    return;
                  }
                }
              });
      for (int round = 0; round < rounds && unexpected.get() == null; round++) {
        long last = log.lastIndex(1);
        log.write(List.of(append(1, last + 1, 10, 1)));
        log.compact(1, last - 5).join();
      }
      done.set(true);
      reader.join();
      assertThat(unexpected.get()).isNull();
      assertThat(log.segmentsPurged()).isPositive();
      assertThat(reads.get()).isPositive();
    }
  }

  static LogRecord hard(long group, long term, long vote, long commit) {
    return new LogRecord.HardStateMark(group, new HardState(term, vote, commit));
  }
}
