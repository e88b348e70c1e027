package io.ringkv.storage;

import static io.ringkv.storage.TestStores.bytes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves the changefeed log: records appended by apply are read back in revision order from any
 * revision, reads are bounded without splitting a revision, retention by age (injected clock) and
 * by bytes drops whole revisions from the oldest end, and the oldest retained revision is exact
 * across reopen, with a clear error for a compacted cursor. Change records keep the logical counter
 * of their hybrid-logical-clock time, and a record in the format of version 1 (no counter) reads
 * with counter 0.
 */
class ChangefeedLogTest {
  @TempDir Path directory;

  private static final long DAY_MILLIS = Duration.ofDays(1).toMillis();

  static void applyRevisions(PartitionStore partition, long from, long to, long millis) {
    for (long revision = from; revision <= to; revision++) {
      partition.apply(
          ApplyBatch.of(
              revision,
              1,
              millis,
              List.of(
                  new Mutation.Put(bytes("k" + revision), bytes("value-" + revision), revision),
                  new Mutation.Put(bytes("shared"), bytes("v" + revision), revision))));
    }
  }

  @Test
  void changeRecordsKeepTheirHlcLogicalCounterAndVersionOneRecordsReadAsZero() {
    try (StorageEngine engine = TestStores.open(directory)) {
      PartitionStore partition = engine.partition(1);
      partition.apply(
          new ApplyBatch(
              2,
              1,
              null,
              500,
              List.of(
                  new Mutation.Put(bytes("a"), bytes("1"), 1),
                  new Mutation.Put(bytes("b"), bytes("2"), 2)),
              List.of(),
              java.util.Map.of(1L, 500L, 2L, 500L),
              java.util.Map.of(2L, 7)));
      List<ChangeRecord> records = engine.changefeed(1).read(1, 10, Long.MAX_VALUE);
      assertThat(records).extracting(ChangeRecord::hlcLogical).containsExactly(0, 7);
      assertThat(records).extracting(ChangeRecord::timestampMillis).containsExactly(500L, 500L);
    }
    // The layout version 1 wrote: time, key, flags (1 = value), value with its revisions.
    byte[] key = Keys.change(1, 9, 0);
    java.nio.ByteBuffer payload = java.nio.ByteBuffer.allocate(8 + 4 + 1 + 1 + 4 + 24 + 1);
    payload.putLong(123).putInt(1).put((byte) 'k').put((byte) 1);
    payload.putInt(24 + 1).putLong(9).putLong(9).putLong(1).put((byte) 'v');
    ChangeRecord old = DataRecords.decodeChange(1, key, Codec.seal(key, payload));
    assertThat(old.hlcLogical()).isZero();
    assertThat(old.timestampMillis()).isEqualTo(123);
    assertThat(old.value().value()).containsExactly('v');
    // And a record without a counter is still written in that layout, byte for byte.
    assertThat(DataRecords.encodeChange(key, old))
        .isEqualTo(Codec.seal(key, payload.rewind().position(payload.limit())));
  }

  @Test
  void readsFromARevisionInOrderAndNeverSplitsARevision() {
    try (StorageEngine engine = TestStores.open(directory)) {
      applyRevisions(engine.partition(1), 1, 10, 0);
      ChangefeedLog feed = engine.changefeed(1);
      List<ChangeRecord> all = feed.read(1, 1000, Long.MAX_VALUE);
      assertThat(all).hasSize(20);
      assertThat(all)
          .isSortedAccordingTo((a, b) ->
              a.revision() != b.revision()
                  ? Long.compare(a.revision(), b.revision())
                  : Integer.compare(a.ordinal(), b.ordinal()));
      List<ChangeRecord> bounded = feed.read(4, 3, Long.MAX_VALUE);
      assertThat(bounded).extracting(ChangeRecord::revision).containsExactly(4L, 4L, 5L, 5L);
      assertThat(feed.read(10, 1, 1)).hasSize(2);
      assertThat(feed.read(11, 10, 100)).isEmpty();
      ChangeRecord second = feed.read(3, 2, Long.MAX_VALUE).get(1);
      assertThat(second.previous().modRevision()).isEqualTo(2);
      assertThat(second.value().version()).isEqualTo(3);
    }
  }

  @Test
  void retentionByAgeFollowsTheInjectedClock() {
    MutableClock clock = new MutableClock(10 * DAY_MILLIS);
    try (StorageEngine engine =
        StorageEngine.open(
            TestStores.options(directory)
                .clock(clock)
                .changefeedRetentionAge(Duration.ofDays(1))
                .build())) {
      PartitionStore partition = engine.partition(1);
      applyRevisions(partition, 1, 5, 10 * DAY_MILLIS);
      applyRevisions(partition, 6, 8, 10 * DAY_MILLIS + DAY_MILLIS / 2);
      ChangefeedLog feed = engine.changefeed(1);
      assertThat(feed.enforceRetention()).isZero();
      clock.millis = 11 * DAY_MILLIS + 1;
      assertThat(feed.enforceRetention()).isEqualTo(10);
      assertThat(feed.oldestRetainedRevision()).isEqualTo(6);
      assertThat(feed.read(6, 100, Long.MAX_VALUE)).hasSize(6);
      assertThatThrownBy(() -> feed.read(5, 100, Long.MAX_VALUE))
          .isInstanceOf(ChangefeedCompactedException.class)
          .hasMessageContaining("oldest retained revision 6");
      clock.millis = 20 * DAY_MILLIS;
      assertThat(feed.enforceRetention()).isEqualTo(6);
      assertThat(feed.oldestRetainedRevision()).as("exact even when empty").isEqualTo(9);
      assertThat(feed.retainedBytes()).isZero();
    }
    try (StorageEngine engine = TestStores.open(directory)) {
      assertThat(engine.changefeed(1).oldestRetainedRevision()).isEqualTo(9);
      assertThat(engine.changefeed(1).read(9, 10, 100)).isEmpty();
    }
  }

  @Test
  void retentionByBytesKeepsTheNewestWithinTheBudget() {
    long budgetBytes;
    try (StorageEngine engine = TestStores.open(directory)) {
      applyRevisions(engine.partition(1), 1, 3, 0);
      budgetBytes = engine.changefeed(1).retainedBytes(); // what three revisions take
    }
    try (StorageEngine engine =
        StorageEngine.open(
            TestStores.options(directory)
                .clock(new MutableClock(0))
                .changefeedRetentionBytesMax(budgetBytes)
                .build())) {
      ChangefeedLog feed = engine.changefeed(1);
      applyRevisions(engine.partition(1), 4, 20, 0);
      assertThat(feed.enforceRetention()).isGreaterThan(0);
      assertThat(feed.retainedBytes()).isLessThanOrEqualTo(budgetBytes);
      long oldest = feed.oldestRetainedRevision();
      assertThat(oldest).as("later revisions are a bit larger than 1..3").isBetween(17L, 19L);
      assertThat(feed.retainedBytes()).isGreaterThan(budgetBytes / 2);
      List<ChangeRecord> kept = feed.read(oldest, 1000, Long.MAX_VALUE);
      assertThat(kept.getFirst().revision()).isEqualTo(oldest);
      assertThat(kept.getLast().revision()).isEqualTo(20);
      assertThat(kept).hasSize(2 * (int) (20 - oldest + 1));
    }
  }

  /** A clock the test sets; the engine reads it through {@link Clock#millis()}. */
  static final class MutableClock extends Clock {
    volatile long millis;

    MutableClock(long millis) {
      this.millis = millis;
    }

    @Override
    public long millis() {
      return millis;
    }

    @Override
    public Instant instant() {
      return Instant.ofEpochMilli(millis);
    }

    @Override
    public ZoneOffset getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }
  }
}
