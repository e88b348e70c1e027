package io.ringkv.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves that changefeed retention racing a snapshot install never lowers the changefeed floor, on
 * a real store and deterministically: retention chooses to drop revisions 1 to 10 and is held at
 * that point (the {@link ChangefeedLog#retentionChosenHook} seam); a snapshot at index 30 is then
 * installed on another thread, and retention is let go only once the install has finished or is
 * blocked on the changefeed. The oldest retained revision must end at 31, in memory and after a
 * reopen, and a reader asking for revision 11 must get "compacted", never the records from 31 on as
 * if 11 to 30 had not existed. Before retention and install were serialized, the floor went back to
 * 10 after the install set it to 30.
 */
class ChangefeedFloorRaceTest {
  private static final long DAY_MILLIS = Duration.ofDays(1).toMillis();
  private static final long WAIT_SECONDS_MAX = 30;

  @TempDir Path directory;

  @Test
  void retentionChosenBeforeAnInstallNeverLowersTheFloorAfterIt() throws Exception {
    Path snapshot = exportSnapshotAt30();
    ChangefeedLogTest.MutableClock clock = new ChangefeedLogTest.MutableClock(10 * DAY_MILLIS);
    Path target = directory.resolve("target");
    try (ExecutorService threads = Executors.newFixedThreadPool(2);
        StorageEngine engine =
            StorageEngine.open(
                TestStores.options(target)
                    .clock(clock)
                    .changefeedRetentionAge(Duration.ofDays(1))
                    .build())) {
      PartitionStore partition = engine.partition(1);
      ChangefeedLog feed = engine.changefeed(1);
      ChangefeedLogTest.applyRevisions(partition, 1, 10, 10 * DAY_MILLIS);
      clock.millis = 11 * DAY_MILLIS + 1; // every record is now past retention

      CountDownLatch chosen = new CountDownLatch(1);
      CountDownLatch release = new CountDownLatch(1);
      feed.retentionChosenHook =
          () -> {
            chosen.countDown();
            await(release);
          };
      CompletableFuture<Integer> retention =
          CompletableFuture.supplyAsync(feed::enforceRetention, threads);
      await(chosen);
      feed.retentionChosenHook = () -> {};
      Thread[] installer = new Thread[1];
      CompletableFuture<AppliedState> install =
          CompletableFuture.supplyAsync(
              () -> {
                installer[0] = Thread.currentThread();
                return partition.installSnapshot(snapshot);
              },
              threads);
      waitUntilDoneOrBlockedOnChangefeed(install, installer);
      release.countDown();
      assertThat(retention.get(WAIT_SECONDS_MAX, TimeUnit.SECONDS)).isEqualTo(20);
      assertThat(install.get(WAIT_SECONDS_MAX, TimeUnit.SECONDS).index()).isEqualTo(30);

      assertThat(feed.oldestRetainedRevision()).isEqualTo(31);
      ChangefeedLogTest.applyRevisions(partition, 31, 32, 11 * DAY_MILLIS);
      assertThatThrownBy(() -> feed.read(11, 100, Long.MAX_VALUE))
          .isInstanceOf(ChangefeedCompactedException.class);
      assertThat(feed.read(31, 100, Long.MAX_VALUE))
          .extracting(ChangeRecord::revision)
          .containsExactly(31L, 31L, 32L, 32L);
    }
    try (StorageEngine engine = StorageEngine.open(TestStores.options(target).build())) {
      assertThat(engine.changefeed(1).oldestRetainedRevision()).as("after reopen").isEqualTo(31);
    }
  }

  private Path exportSnapshotAt30() {
    Path snapshot = directory.resolve("snapshot-30");
    try (StorageEngine source = TestStores.open(directory.resolve("source"))) {
      ChangefeedLogTest.applyRevisions(source.partition(1), 1, 30, 10 * DAY_MILLIS);
      source.partition(1).exportSnapshot(snapshot);
    }
    return snapshot;
  }

  /** Lets retention go only when the install cannot overtake it any more, or already did. */
  private static void waitUntilDoneOrBlockedOnChangefeed(
      CompletableFuture<?> install, Thread[] installer) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS_MAX);
    while (!install.isDone()) {
      Thread thread = installer[0];
      if (thread != null) {
        ThreadInfo info = ManagementFactory.getThreadMXBean().getThreadInfo(thread.threadId());
        if (info != null
            && info.getLockName() != null
            && info.getLockName().startsWith(ChangefeedLog.class.getName())) {
          return;
        }
      }
      assertThat(System.nanoTime()).as("install finished or blocked in time").isLessThan(deadline);
      Thread.onSpinWait();
    }
  }

  private static void await(CountDownLatch latch) {
    try {
      assertThat(latch.await(WAIT_SECONDS_MAX, TimeUnit.SECONDS)).as("latch released").isTrue();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
