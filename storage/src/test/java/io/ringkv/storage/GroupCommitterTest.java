package io.ringkv.storage;

import static io.ringkv.storage.TestStores.entries;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.ringkv.raft.HardState;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves group commit: writes of many groups queued while the committer is busy become one RocksDB
 * write with one fsync (counted in the metrics), futures complete only after that write, a writer
 * that finds the bounded queue full waits for room (counted) instead of being refused, a write
 * above the batch limits is split into parts that each fit, and the synchronous call is all or
 * nothing.
 *
 * <p>The committer thread comes from an injected factory that holds it at a latch, so the queue
 * state at the first commit is exact, without timing guesses.
 */
class GroupCommitterTest {
  @TempDir Path directory;

  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final CountDownLatch release = new CountDownLatch(1);

  private StorageEngine openHeld(int queueWritesMax) {
    return StorageEngine.open(
        TestStores.options(directory)
            .meterRegistry(registry)
            .commitQueueWritesMax(queueWritesMax)
            .commitBatchWritesMax(queueWritesMax)
            .committerThreadFactory(runnable ->
                new Thread(
                    () -> {
                      awaitRelease();
                      runnable.run();
                    },
                    "held-committer"))
            .build());
  }

  private void awaitRelease() {
    try {
      if (!release.await(30, TimeUnit.SECONDS)) {
        throw new IllegalStateException("test never released the committer");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Test
  void writesThatOnlyMoveTheCommitIndexTakeNoFsyncAndTheNextFsyncKeepsThem() {
    try (StorageEngine engine = openHeld(64)) {
      release.countDown();
      GroupCommitter committer = engine.groupCommitter();
      committer.submit(LogWrite.of(1, entries(1, 3, 1), new HardState(1, 1, 1))).join();
      long walSyncs = engine.walSyncCount();
      committer.submit(LogWrite.of(1, List.of(), new HardState(1, 1, 3)), false).join();
      assertThat(engine.walSyncCount()).as("no WAL sync for a commit index").isEqualTo(walSyncs);
      assertThat(registry.counter("ringkv.storage.fsyncs").count()).isEqualTo(1.0);
      assertThat(registry.counter("ringkv.storage.unsynced.writes").count()).isEqualTo(1.0);
      assertThat(engine.raftLog(1).initialState().hardState().commit()).isEqualTo(3);
      committer.submit(LogWrite.of(1, entries(4, 4, 1), null)).join();
      assertThat(registry.counter("ringkv.storage.fsyncs").count()).isEqualTo(2.0);
    }
    try (StorageEngine engine = StorageEngine.open(TestStores.options(directory).build())) {
      assertThat(engine.raftLog(1).initialState().hardState()).isEqualTo(new HardState(1, 1, 3));
      assertThat(engine.raftLog(1).lastIndex()).isEqualTo(4);
    }
  }

  @Test
  void pendingWritesOfManyGroupsShareOneFsync() {
    try (StorageEngine engine = openHeld(64)) {
      List<CompletableFuture<Void>> futures = new ArrayList<>();
      for (long group = 1; group <= 8; group++) {
        futures.add(engine.groupCommitter().submit(LogWrite.of(group, entries(1, 2, 1), null)));
        futures.add(
            engine
                .groupCommitter()
                .submit(LogWrite.of(group, entries(3, 3, 1), new HardState(1, 1, 3))));
      }
      assertThat(futures).noneMatch(CompletableFuture::isDone);
      assertThat(engine.raftLog(1).lastIndex()).as("nothing visible before durable").isZero();
      long walSyncsBefore = engine.walSyncCount();
      release.countDown();
      CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)).join();
      assertThat(engine.walSyncCount() - walSyncsBefore)
          .as("RocksDB itself synced the WAL exactly once")
          .isEqualTo(1);
      assertThat(registry.counter("ringkv.storage.fsyncs").count()).isEqualTo(1.0);
      assertThat(registry.summary("ringkv.storage.commit.batch.writes").max()).isEqualTo(16.0);
      assertThat(registry.timer("ringkv.storage.fsync.latency").count()).isEqualTo(1);
      for (long group = 1; group <= 8; group++) {
        assertThat(engine.raftLog(group).lastIndex()).isEqualTo(3);
        assertThat(engine.raftLog(group).initialState().hardState().commit()).isEqualTo(3);
      }
    }
  }

  @Test
  void fullQueueMakesTheWriterWaitAndCounts() throws Exception {
    try (StorageEngine engine = openHeld(2)) {
      GroupCommitter committer = engine.groupCommitter();
      try {
        CompletableFuture<Void> first = committer.submit(LogWrite.of(1, entries(1, 1, 1), null));
        CompletableFuture<Void> second = committer.submit(LogWrite.of(1, entries(2, 2, 1), null));
        assertThat(committer.queueSpaceWrites()).isZero();
        CompletableFuture<CompletableFuture<Void>> third =
            CompletableFuture.supplyAsync(
                () -> committer.submit(LogWrite.of(1, entries(3, 3, 1), null)));
        awaitCount("ringkv.storage.commit.queue.waits", 1.0);
        assertThat(third).as("the writer waits for room, it is not refused").isNotDone();
        release.countDown();
        CompletableFuture.allOf(first, second, third.get(30, TimeUnit.SECONDS)).join();
        assertThat(engine.raftLog(1).lastIndex()).isEqualTo(3);
      } finally {
        release.countDown(); // never leave the committer held: close would wait for it
      }
    }
  }

  @Test
  void writeAboveTheBatchLimitsIsSplitAndDurable() {
    try (StorageEngine engine =
        StorageEngine.open(
            TestStores.options(directory)
                .meterRegistry(registry)
                .batchEntriesMax(10)
                .batchSizeBytesMax(4 * 1024 * 1024)
                .build())) {
      engine.groupCommitter().submit(LogWrite.of(1, entries(1, 25, 1), null)).join();
      engine
          .groupCommitter()
          .submit(LogWrite.of(1, entries(26, 47, 1), new HardState(1, 1, 47)))
          .join();
      RaftLogStore log = engine.raftLog(1);
      assertThat(log.lastIndex()).isEqualTo(47);
      assertThat(log.initialState().hardState().commit()).isEqualTo(47);
      assertThat(log.entries(1, 48, Long.MAX_VALUE)).hasSize(47);
      assertThat(registry.summary("ringkv.storage.commit.batch.writes").totalAmount())
          .as("3 + 3 parts of at most 10 entries")
          .isEqualTo(6.0);
    }
  }

  private void awaitCount(String counter, double count) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (registry.counter(counter).count() < count) {
      assertThat(System.nanoTime()).as("waiting for " + counter).isLessThan(deadline);
      TimeUnit.MILLISECONDS.sleep(5); // polling interval of a bounded wait
    }
  }

  @Test
  void badWriteFailsAloneInAsyncModeButFailsAllInSyncMode() {
    try (StorageEngine engine = openHeld(16)) {
      GroupCommitter committer = engine.groupCommitter();
      CompletableFuture<Void> good = committer.submit(LogWrite.of(1, entries(1, 2, 1), null));
      CompletableFuture<Void> gap = committer.submit(LogWrite.of(2, entries(5, 5, 1), null));
      release.countDown();
      good.join();
      assertThatThrownBy(gap::join).isInstanceOf(CompletionException.class);
      assertThat(engine.raftLog(1).lastIndex()).isEqualTo(2);

      assertThatThrownBy(() ->
              committer.commit(
                  List.of(
                      LogWrite.of(1, entries(3, 3, 1), null),
                      LogWrite.of(2, entries(7, 7, 1), null))))
          .isInstanceOf(StorageException.class)
          .hasMessageContaining("group 2");
      assertThat(engine.raftLog(1).lastIndex()).as("all or nothing").isEqualTo(2);
      committer.commit(List.of(LogWrite.of(1, entries(3, 4, 1), null)));
      assertThat(engine.raftLog(1).lastIndex()).isEqualTo(4);
    }
  }

  @Test
  void writesOfOneGroupInOneBatchBuildOnEachOther() {
    try (StorageEngine engine = openHeld(16)) {
      GroupCommitter committer = engine.groupCommitter();
      CompletableFuture<Void> a = committer.submit(LogWrite.of(1, entries(1, 5, 1), null));
      CompletableFuture<Void> b = committer.submit(LogWrite.of(1, entries(4, 4, 2), null));
      CompletableFuture<Void> c = committer.submit(LogWrite.of(1, entries(5, 6, 2), null));
      release.countDown();
      CompletableFuture.allOf(a, b, c).join();
      RaftLogStore log = engine.raftLog(1);
      assertThat(log.lastIndex()).isEqualTo(6);
      assertThat(log.term(3)).isEqualTo(1);
      assertThat(log.term(4)).isEqualTo(2);
      assertThat(log.entries(1, 7, Long.MAX_VALUE)).hasSize(6);
      assertThat(registry.counter("ringkv.storage.fsyncs").count()).isEqualTo(1.0);
    }
  }

  @Test
  void closeCommitsWhatIsQueuedAndThenRejects() {
    CompletableFuture<Void> queued;
    GroupCommitter committer;
    try (StorageEngine engine = openHeld(16)) {
      committer = engine.groupCommitter();
      queued = committer.submit(LogWrite.of(1, entries(1, 3, 1), null));
      release.countDown();
    }
    assertThat(queued).isCompleted();
    assertThat(queued).isNotCompletedExceptionally();
    assertThat(committer.submit(LogWrite.of(1, entries(4, 4, 1), null))).isCompletedExceptionally();
    try (StorageEngine engine = TestStores.open(directory)) {
      assertThat(engine.raftLog(1).lastIndex()).isEqualTo(3);
    }
  }
}
