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
 * write with one fsync (counted in the metrics), futures complete only after that write, the
 * bounded queue rejects and counts overflow, and the synchronous call is all or nothing.
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
  void fullQueueRejectsAndCounts() {
    try (StorageEngine engine = openHeld(2)) {
      GroupCommitter committer = engine.groupCommitter();
      CompletableFuture<Void> first = committer.submit(LogWrite.of(1, entries(1, 1, 1), null));
      CompletableFuture<Void> second = committer.submit(LogWrite.of(1, entries(2, 2, 1), null));
      CompletableFuture<Void> third = committer.submit(LogWrite.of(1, entries(3, 3, 1), null));
      assertThat(third).isCompletedExceptionally();
      assertThatThrownBy(third::join)
          .hasCauseInstanceOf(CommitRejectedException.class)
          .hasMessageContaining("commitQueueWritesMax=2");
      assertThat(registry.counter("ringkv.storage.commit.rejected").count()).isEqualTo(1.0);
      release.countDown();
      first.join();
      second.join();
      assertThat(engine.raftLog(1).lastIndex()).isEqualTo(2);
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
