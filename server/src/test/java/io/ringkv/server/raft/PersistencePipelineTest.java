package io.ringkv.server.raft;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.ringkv.proto.internal.GroupRaftMessage;
import io.ringkv.proto.internal.RaftBatch;
import io.ringkv.proto.internal.RaftEntry;
import io.ringkv.proto.internal.RaftMessage;
import io.ringkv.proto.internal.RaftMessageType;
import io.ringkv.storage.StorageEngine;
import io.ringkv.storage.StorageOptions;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Steps one follower replica of a driver (its loop thread never started) over a real store, with
 * peer messages built on the wire format, and checks what the persistence stage hands to the apply
 * stage before a log write is durable. Proves: when a Ready truncates a durable suffix (a new
 * leader overwrites entries 6..10 of term 1 with entries of term 2), only the durable prefix that
 * still matches (1..5) is handed out early; the new committed entries wait for their fsync. And
 * when the apply queue is over its byte bound (apply held back by holding the partition store), the
 * driver takes no new Ready, fails nothing, and goes on once apply drains. And a follower's
 * acknowledgement of an append leaves once, from the committer's thread, with the entries durable.
 */
class PersistencePipelineTest {
  private static final long SELF = 1;
  private static final int PARTITION = 0;

  @TempDir Path directory;
  private StorageEngine engine;
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private MultiRaftDriver driver;

  @AfterEach
  void close() {
    if (driver != null) {
      driver.close();
    }
    if (engine != null) {
      engine.close();
    }
  }

  @Test
  void truncatingReadyHandsOutOnlyTheMatchingDurablePrefixEarly() throws Exception {
    engine = StorageEngine.open(StorageOptions.builder(directory, "pipeline", SELF).build());
    driver =
        steppedDriver(
            engine,
            Map.of(PARTITION, List.of(1L, 2L, 3L)),
            DriverSettings.APPLY_QUEUE_BYTES_MAX_DEFAULT);
    GroupReplica replica = driver.replica(PARTITION);

    // Leader 2 (term 1) appends 1..10, commits nothing yet.
    driver.onRaftBatch(2, append(2, 1, 0, 0, 1, 10, 0));
    stepUntil("entries 1..10 durable", () -> replica.durableIndex == 10 && replica.writing == null);
    assertThat(replica.handedIndex).isZero();

    // Leader 3 (term 2) overwrites 6..10 with 6..8 of term 2 and commits through 7.
    driver.onRaftBatch(3, append(3, 2, 5, 1, 2, 3, 7));
    driver.runOneIteration();
    assertThat(replica.writing).as("the truncating write is in flight").isNotNull();
    assertThat(replica.handedIndex)
        .as("handed out before the truncating write is durable")
        .isEqualTo(5);

    stepUntil("entries through 7 handed out after the write", () -> replica.handedIndex == 7);
    stepUntil("applied through 7", () -> replica.appliedIndex == 7);
    assertThat(engine.raftLog(PARTITION).term(7)).isEqualTo(2);
  }

  @Test
  void aFollowersAcknowledgementLeavesFromTheCommitterRightAfterItsWriteIsDurable()
      throws Exception {
    engine = StorageEngine.open(StorageOptions.builder(directory, "pipeline", SELF).build());
    record Sent(boolean writeStillPending, long durableLastIndex, RaftBatch batch) {}
    java.util.Queue<Sent> sent = new java.util.concurrent.ConcurrentLinkedQueue<>();
    driver =
        steppedDriver(
            engine,
            Map.of(PARTITION, List.of(1L, 2L, 3L)),
            DriverSettings.APPLY_QUEUE_BYTES_MAX_DEFAULT,
            (to, batch) -> {
              GroupReplica sender = driver.replica(PARTITION);
              sent.add(
                  new Sent(sender.writing != null, engine.raftLog(PARTITION).lastIndex(), batch));
              return true;
            });
    GroupReplica replica = driver.replica(PARTITION);

    driver.onRaftBatch(2, append(2, 1, 0, 0, 1, 10, 0));
    stepUntil("entries 1..10 durable", () -> replica.durableIndex == 10 && replica.writing == null);

    List<Sent> acks =
        sent.stream()
            .filter(s ->
                s.batch().getMessagesList().stream()
                    .anyMatch(m -> m.getMessage().getType() == RaftMessageType.MSG_APP_RESP))
            .toList();
    assertThat(acks).as("one acknowledgement of the append, sent once").hasSize(1);
    assertThat(acks.getFirst().durableLastIndex())
        .as("the log holds the entries when the acknowledgement leaves")
        .isEqualTo(10);
    // Sent from the write's completion, before the driver thread finished the Ready (which clears
    // `writing`): the acknowledgement does not wait for a trip through the driver. (Which thread
    // runs the completion is a race: the committer's, or the driver's if the fsync was already
    // done when the driver registered it.)
    assertThat(acks.getFirst().writeStillPending())
        .as("sent before the driver thread handled the durable write")
        .isTrue();
  }

  @Test
  void fullApplyQueueHoldsReadiesBackUntilApplyDrains() throws Exception {
    engine = StorageEngine.open(StorageOptions.builder(directory, "pipeline", SELF).build());
    long queueBytesMax = 3 * ReplicaApplier.ENTRY_OVERHEAD_BYTES; // three empty entries fill it
    driver = steppedDriver(engine, Map.of(PARTITION, List.of(1L, 2L, 3L)), queueBytesMax);
    GroupReplica replica = driver.replica(PARTITION);
    synchronized (engine.partition(PARTITION)) { // the apply thread blocks on the store
      driver.onRaftBatch(2, append(2, 1, 0, 0, 1, 3, 3));
      stepUntil("1..3 handed to apply", () -> replica.handedIndex == 3);
      driver.onRaftBatch(2, append(2, 1, 3, 1, 1, 3, 6));
      stepUntil(
          "20 iterations held back, or 4..6 handed out",
          () -> backPressureWaits() >= 20 || replica.handedIndex == 6);
      assertThat(replica.handedIndex).as("no Ready taken while apply is full").isEqualTo(3);
      assertThat(replica.raw.hasReady()).isTrue();
      assertThat(replica.failure).isNull();
    }
    stepUntil("4..6 handed out once apply drained", () -> replica.handedIndex == 6);
    stepUntil("applied through 6", () -> replica.appliedIndex == 6);
    assertThat(replica.failure).isNull();
  }

  @Test
  void readyAboveTheLogWriteLimitIsWrittenInParts() throws Exception {
    engine =
        StorageEngine.open(
            StorageOptions.builder(directory, "pipeline", SELF).batchEntriesMax(100).build());
    driver =
        steppedDriver(
            engine,
            Map.of(PARTITION, List.of(1L, 2L, 3L)),
            DriverSettings.APPLY_QUEUE_BYTES_MAX_DEFAULT);
    GroupReplica replica = driver.replica(PARTITION);
    driver.onRaftBatch(2, append(2, 1, 0, 0, 1, 250, 250));
    stepUntil(
        "250 entries applied, or the replica stopped",
        () -> replica.appliedIndex == 250 || replica.failure != null);
    assertThat(replica.failure).isNull();
    assertThat(engine.raftLog(PARTITION).lastIndex()).isEqualTo(250);
  }

  @Test
  void moreGroupsThanTheCommitQueueHoldsWaitInsteadOfFailing() throws Exception {
    int groups = 24;
    engine =
        StorageEngine.open(
            StorageOptions.builder(directory, "pipeline", SELF)
                .commitQueueWritesMax(2)
                .commitBatchWritesMax(2)
                .build());
    Map<Integer, List<Long>> replicas = new java.util.HashMap<>();
    RaftBatch.Builder frame = RaftBatch.newBuilder();
    for (int partition = 0; partition < groups; partition++) {
      replicas.put(partition, List.of(1L, 2L, 3L));
      frame.addAllMessages(append(partition, 2, 1, 0, 0, 1, 5, 5).getMessagesList());
    }
    driver = steppedDriver(engine, replicas, DriverSettings.APPLY_QUEUE_BYTES_MAX_DEFAULT);
    driver.onRaftBatch(2, frame.build()); // every group has a write in the same iteration
    stepUntil(
        "every group applied through 5, or one stopped",
        () -> {
          boolean done = true;
          for (int partition = 0; partition < groups; partition++) {
            GroupReplica replica = driver.replica(partition);
            if (replica.failure != null) {
              return true;
            }
            done &= replica.appliedIndex == 5;
          }
          return done;
        });
    for (int partition = 0; partition < groups; partition++) {
      assertThat(driver.replica(partition).failure).as("partition %d", partition).isNull();
    }
  }

  @Test
  void snapshotInstallHoldsUpNeitherTheDriverNorOtherGroups() throws Exception {
    Path exported = directory.resolve("exported");
    try (StorageEngine source =
        StorageEngine.open(
            StorageOptions.builder(directory.resolve("source"), "pipeline", 2).build())) {
      source
          .partition(PARTITION)
          .apply(
              io.ringkv.storage.ApplyBatch.of(
                  10,
                  1,
                  0,
                  List.of(new io.ringkv.storage.Mutation.Put(new byte[] {1}, new byte[] {2}, 10))));
      source.partition(PARTITION).exportSnapshot(exported);
    }
    engine =
        StorageEngine.open(
            StorageOptions.builder(directory.resolve("node"), "pipeline", SELF).build());
    driver =
        steppedDriver(
            engine,
            Map.of(PARTITION, List.of(1L, 2L, 3L), 1, List.of(1L, 2L, 3L)),
            DriverSettings.APPLY_QUEUE_BYTES_MAX_DEFAULT);
    GroupReplica installing = driver.replica(PARTITION);
    GroupReplica other = driver.replica(1);
    RaftMessage snapshot =
        RaftMessage.newBuilder()
            .setType(RaftMessageType.MSG_SNAP)
            .setTo(SELF)
            .setFrom(2)
            .setTerm(1)
            .setSnapshot(
                io.ringkv.proto.internal.RaftSnapshot.newBuilder()
                    .setData(com.google.protobuf.ByteString.copyFromUtf8(exported.toString()))
                    .setMetadata(
                        io.ringkv.proto.internal.RaftSnapshotMetadata.newBuilder()
                            .setIndex(10)
                            .setTerm(1)
                            .setConfState(
                                io.ringkv.proto.internal.RaftConfState.newBuilder()
                                    .addVoters(1)
                                    .addVoters(2)
                                    .addVoters(3))))
            .build();
    java.util.concurrent.ExecutorService stepper =
        java.util.concurrent.Executors.newSingleThreadExecutor();
    try {
      synchronized (engine.partition(PARTITION)) { // the install blocks on the store
        driver.deliverSnapshot(2, PARTITION, RaftMessageCodec.decode(snapshot));
        driver.onRaftBatch(2, append(1, 2, 1, 0, 0, 1, 3, 3));
        // Step on another thread: if an iteration waited for the install, it would never end.
        stepper
            .submit(() -> {
              stepUntil(
                  "the other group applies while the install is held",
                  () -> other.appliedIndex == 3);
              return null;
            })
            .get(10, TimeUnit.SECONDS);
        assertThat(installing.writing).as("the installing group waits for its install").isNotNull();
        assertThat(installing.appliedIndex).isZero();
      }
      stepper
          .submit(() -> {
            stepUntil(
                "the install finishes",
                () -> installing.appliedIndex == 10 && installing.writing == null);
            return null;
          })
          .get(10, TimeUnit.SECONDS);
    } finally {
      stepper.shutdownNow();
    }
    assertThat(installing.failure).isNull();
    assertThat(engine.partition(PARTITION).get(new byte[] {1})).isPresent();
  }

  private double backPressureWaits() {
    return registry.get("ringkv.driver.backpressure.waits").counter().count();
  }

  /** A driver over {@code engine} whose loop a test steps; frames out are discarded. */
  private MultiRaftDriver steppedDriver(
      StorageEngine engine, Map<Integer, List<Long>> replicas, long applyQueueBytesMax) {
    return steppedDriver(engine, replicas, applyQueueBytesMax, (to, batch) -> true);
  }

  /** A driver over {@code engine} whose loop a test steps; frames out go to {@code sender}. */
  private MultiRaftDriver steppedDriver(
      StorageEngine engine,
      Map<Integer, List<Long>> replicas,
      long applyQueueBytesMax,
      MultiRaftDriver.PeerSender sender) {
    DriverSettings settings =
        new DriverSettings(
            SELF,
            100,
            10,
            1,
            DriverSettings.LOG_COMPACTION_ENTRIES_DEFAULT,
            1024,
            1L << 30,
            1L << 20,
            DriverSettings.SESSION_TTL_MILLIS_DEFAULT,
            DriverSettings.INBOX_TASKS_MAX_DEFAULT,
            engine.path().resolve("snapshots"),
            applyQueueBytesMax,
            DriverSettings.RAFT_INFLIGHT_BYTES_MAX_DEFAULT,
            io.ringkv.raft.Config.ReadOnlyMode.LEASE_BASED);
    long[] frozenNanos = {0}; // no tick is ever due: no election interferes
    MultiRaftDriver driver =
        new MultiRaftDriver(
            settings,
            engine,
            replicas,
            replicas.size(),
            Clock.systemUTC(),
            () -> frozenNanos[0],
            new SplittableRandom(7),
            registry);
    driver.attach(sender, (partition, message, store) -> {});
    return driver;
  }

  /** A MSG_APP from {@code leader} with {@code count} empty entries of {@code entryTerm}. */
  static RaftBatch append(
      long leader,
      long term,
      long prevIndex,
      long prevTerm,
      long entryTerm,
      int count,
      long commit) {
    return append(PARTITION, leader, term, prevIndex, prevTerm, entryTerm, count, commit);
  }

  static RaftBatch append(
      int partition,
      long leader,
      long term,
      long prevIndex,
      long prevTerm,
      long entryTerm,
      int count,
      long commit) {
    RaftMessage.Builder message =
        RaftMessage.newBuilder()
            .setType(RaftMessageType.MSG_APP)
            .setTo(SELF)
            .setFrom(leader)
            .setTerm(term)
            .setIndex(prevIndex)
            .setLogTerm(prevTerm)
            .setCommit(commit);
    for (int i = 1; i <= count; i++) {
      message.addEntries(RaftEntry.newBuilder().setIndex(prevIndex + i).setTerm(entryTerm));
    }
    return RaftBatch.newBuilder()
        .addMessages(GroupRaftMessage.newBuilder().setGroupId(partition).setMessage(message))
        .build();
  }

  private void stepUntil(String what, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out stepping until: " + what);
      }
      driver.runOneIteration();
      Thread.onSpinWait(); // the group committer and apply threads work meanwhile
    }
  }
}
