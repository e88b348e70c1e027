package io.ringkv.server.raft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.ringkv.proto.internal.ChangeReplicasRequest;
import io.ringkv.proto.internal.ChangeReplicasResponse;
import io.ringkv.proto.internal.Command;
import io.ringkv.proto.internal.GroupProgressResponse;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.raft.Message;
import io.ringkv.raft.Role;
import io.ringkv.raft.Snapshot;
import io.ringkv.raft.SnapshotMetadata;
import io.ringkv.storage.SnapshotFiles;
import io.ringkv.storage.StorageEngine;
import io.ringkv.storage.StorageOptions;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves the driver's run-time replica operations on four in-process nodes whose drivers run their
 * own loops, wired to each other directly (frames handed over in memory, snapshots exported to the
 * receiver's disk and delivered as a transfer would): an empty replica created on node 4 joins
 * group 0 as a learner, catches up through a snapshot (the leader's log is compacted), replaces a
 * voter in one joint-consensus change, and the old replica is destroyed with its data; every step
 * answered twice changes nothing the second time; a voter's replica cannot be destroyed; a follower
 * refuses with NOT_LEADER; after restarts node 4 hosts the group and the old node does not. With
 * the planted bug on, the learner reaches the leader's index without the data. An empty replica
 * never campaigns.
 */
class RuntimeReplicasTest {
  private static final int GROUP = 0;
  private static final int PARTITION_COUNT = 1;
  private static final int NODES = 4;
  private static final int KEYS = 60;
  private static final long WAIT_SECONDS = 30;
  private static final int WRITE_ATTEMPTS_MAX = 5;

  @TempDir Path directory;

  /**
   * The engine every node's log uses; {@link SegmentedRuntimeReplicasTest} runs all on the other.
   */
  io.ringkv.storage.RaftLogEngine raftLogEngine() {
    return io.ringkv.storage.RaftLogEngine.ROCKSDB;
  }

  private final StorageEngine[] engines = new StorageEngine[NODES + 1];
  private final MultiRaftDriver[] drivers = new MultiRaftDriver[NODES + 1];
  private final ExecutorService shipper = Executors.newSingleThreadExecutor();
  private final AtomicLong snapshotIds = new AtomicLong();

  @AfterEach
  void close() {
    shipper.shutdownNow();
    for (int node = 1; node <= NODES; node++) {
      stop(node);
    }
  }

  private void stop(int node) {
    if (drivers[node] != null) {
      drivers[node].close();
      drivers[node] = null;
    }
    if (engines[node] != null) {
      engines[node].close();
      engines[node] = null;
    }
  }

  private void start(int node, Map<Integer, List<Long>> bootstrap) {
    engines[node] =
        StorageEngine.open(
            StorageOptions.builder(directory.resolve("n" + node), "runtime", node)
                .raftLogEngine(raftLogEngine())
                .build());
    DriverSettings settings =
        new DriverSettings(
            node,
            10,
            10,
            1,
            10, // compact often: a late replica needs a snapshot
            1024,
            1L << 30,
            1L << 20,
            DriverSettings.SESSION_TTL_MILLIS_DEFAULT,
            DriverSettings.INBOX_TASKS_MAX_DEFAULT,
            directory.resolve("n" + node).resolve("snapshots"),
            DriverSettings.APPLY_QUEUE_BYTES_MAX_DEFAULT,
            DriverSettings.RAFT_INFLIGHT_BYTES_MAX_DEFAULT,
            io.ringkv.raft.Config.ReadOnlyMode.LEASE_BASED);
    drivers[node] =
        new MultiRaftDriver(
            settings,
            engines[node],
            bootstrap,
            PARTITION_COUNT,
            Clock.systemUTC(),
            System::nanoTime,
            new SplittableRandom(node),
            new SimpleMeterRegistry());
    long from = node;
    drivers[node].start(
        (to, batch) -> {
          MultiRaftDriver target = drivers[(int) to];
          if (target != null) {
            target.onRaftBatch(from, batch);
          }
          return true;
        },
        (partition, message, store) ->
            shipper.execute(() -> ship(from, partition, message, store)));
  }

  /**
   * What a chunked transfer ends with: the export in the receiver's directory, then the MSG_SNAP.
   */
  private void ship(
      long from, int partition, Message message, io.ringkv.storage.PartitionStore store) {
    int to = (int) message.to();
    boolean delivered = false;
    try {
      MultiRaftDriver target = drivers[to];
      if (target != null) {
        Path export =
            directory.resolve("n" + to).resolve("incoming-" + snapshotIds.incrementAndGet());
        SnapshotFiles files = store.exportSnapshot(export);
        SnapshotMetadata metadata =
            new SnapshotMetadata(
                files.appliedState().index(),
                files.appliedState().term(),
                message.snapshot().metadata().confState());
        target.deliverSnapshot(
            from,
            partition,
            message.withSnapshot(
                new Snapshot(metadata, export.toString().getBytes(StandardCharsets.UTF_8))));
        delivered = true;
      }
    } finally {
      MultiRaftDriver source = drivers[(int) from];
      if (source != null) {
        source.reportSnapshot(partition, to, delivered);
      }
    }
  }

  private void startCluster() {
    for (int node = 1; node <= 3; node++) {
      start(node, Map.of(GROUP, List.of(1L, 2L, 3L)));
    }
    start(4, Map.of());
  }

  private int leader() throws Exception {
    int[] found = {0};
    await(
        "a leader of group 0",
        () -> {
          for (int node = 1; node <= NODES; node++) {
            GroupStatus status = drivers[node] == null ? null : drivers[node].status(GROUP);
            if (status != null && status.role() == Role.LEADER) {
              found[0] = node;
              return true;
            }
          }
          return false;
        });
    return found[0];
  }

  /**
   * Puts the keys through whichever node leads. On a loaded machine an election can end a
   * leadership mid-write; the put is then asked again of the new leader (putting the same value
   * twice changes nothing), since this test is about replica changes, not about elections.
   */
  private void writeKeys() throws Exception {
    for (int i = 0; i < KEYS; i++) {
      Command put =
          Command.newBuilder()
              .setPut(
                  PutRequest.newBuilder()
                      .setKey(ByteString.copyFromUtf8("key-" + i))
                      .setValue(ByteString.copyFromUtf8("value-" + i)))
              .build();
      for (int attempt = 1; ; attempt++) {
        try {
          drivers[leader()].propose(GROUP, put).get(WAIT_SECONDS, TimeUnit.SECONDS);
          break;
        } catch (ExecutionException e) {
          boolean leadershipMoved =
              e.getCause() instanceof DriverException failure
                  && (failure.kind() == DriverException.Kind.NOT_LEADER
                      || failure.kind() == DriverException.Kind.UNAVAILABLE);
          if (!leadershipMoved || attempt == WRITE_ATTEMPTS_MAX) {
            throw e;
          }
        }
      }
    }
  }

  private static ChangeReplicasRequest request(
      ChangeReplicasRequest.Operation operation, long add, long remove) {
    return ChangeReplicasRequest.newBuilder()
        .setGroup(GROUP)
        .setOperation(operation)
        .setAddNode(add)
        .setRemoveNode(remove)
        .build();
  }

  private static <T> T get(java.util.concurrent.CompletableFuture<T> future) throws Exception {
    return future.get(WAIT_SECONDS, TimeUnit.SECONDS);
  }

  private static void await(String what, BooleanSupplier condition) throws Exception {
    BoundedWait.await(what, WAIT_SECONDS, condition);
  }

  /** Adds node 4 as a learner and waits until it caught up with the leader's commit index. */
  private int addLearnerAndCatchUp() throws Exception {
    writeKeys();
    int leader = leader();
    assertThat(get(drivers[4].createReplica(GROUP))).as("created").isTrue();
    assertThat(get(drivers[4].createReplica(GROUP))).as("created again").isFalse();

    ChangeReplicasResponse added =
        get(
            drivers[leader].changeReplicas(
                GROUP, request(ChangeReplicasRequest.Operation.ADD_LEARNER, 4, 0)));
    assertThat(added.getConf().getLearnersList()).containsExactly(4L);
    assertThat(added.getIndex()).isPositive();
    ChangeReplicasResponse again =
        get(
            drivers[leader].changeReplicas(
                GROUP, request(ChangeReplicasRequest.Operation.ADD_LEARNER, 4, 0)));
    assertThat(again.getIndex()).as("already a learner: nothing proposed").isZero();

    long target = get(drivers[leader].groupProgress(GROUP)).getCommitIndex();
    await(
        "node 4 matches the leader's commit index " + target,
        () -> {
          try {
            GroupProgressResponse progress = get(drivers[leader].groupProgress(GROUP));
            return progress.getProgressList().stream()
                .anyMatch(m -> m.getNodeId() == 4 && m.getMatchIndex() >= target);
          } catch (Exception e) {
            return false;
          }
        });
    await("node 4 applied " + target, () -> drivers[4].appliedIndex(GROUP) >= target);
    return leader;
  }

  @Test
  void replicaMovesToANewNodeStepByStepAndEveryStepIsIdempotent() throws Exception {
    startCluster();
    int leader = addLearnerAndCatchUp();
    for (int i = 0; i < KEYS; i++) {
      assertThat(engines[4].partition(GROUP).get(("key-" + i).getBytes(StandardCharsets.UTF_8)))
          .as("key-%d on the learner", i)
          .isPresent();
    }
    int from = leader == 1 ? 2 : 1;
    int follower = 6 - leader - from; // the third voter

    assertThatThrownBy(() ->
            get(
                drivers[follower].changeReplicas(
                    GROUP, request(ChangeReplicasRequest.Operation.REPLACE_VOTER, 4, from))))
        .hasCauseInstanceOf(DriverException.class)
        .cause()
        .matches(e -> ((DriverException) e).kind() == DriverException.Kind.NOT_LEADER);

    ChangeReplicasResponse replaced =
        get(
            drivers[leader].changeReplicas(
                GROUP, request(ChangeReplicasRequest.Operation.REPLACE_VOTER, 4, from)));
    assertThat(replaced.getConf().getVotersList())
        .containsExactlyInAnyOrder((long) leader, (long) follower, 4L);
    assertThat(replaced.getConf().getLearnersList()).isEmpty();
    assertThat(replaced.getConf().getVotersOutgoingList()).as("joint left").isEmpty();
    ChangeReplicasResponse replacedAgain =
        get(
            drivers[leader].changeReplicas(
                GROUP, request(ChangeReplicasRequest.Operation.REPLACE_VOTER, 4, from)));
    assertThat(replacedAgain.getIndex()).isZero();

    assertThatThrownBy(() -> get(drivers[follower].destroyReplica(GROUP)))
        .as("a voter's replica is not destroyed")
        .hasCauseInstanceOf(IllegalStateException.class);
    await(
        "node " + from + " applied its removal",
        () ->
            !ReplicaChanges.isMember(drivers[from].replica(GROUP).raw.status().confState(), from));
    java.util.concurrent.CompletableFuture<Integer> gone =
        new java.util.concurrent.CompletableFuture<>();
    drivers[from].setReplicaDestroyedListener(gone::complete);
    assertThat(get(drivers[from].destroyReplica(GROUP))).isTrue();
    assertThat(get(gone)).as("the changefeed hears of it").isEqualTo(GROUP);
    assertThat(get(drivers[from].destroyReplica(GROUP))).as("destroyed again").isFalse();
    assertThat(drivers[from].hosts(GROUP)).isFalse();
    assertThat(get(drivers[from].groupProgress(GROUP)).getHosted()).isFalse();
    assertThat(engines[from].persistedGroups()).doesNotContain((long) GROUP);
    assertThat(engines[from].partition(GROUP).get("key-0".getBytes(StandardCharsets.UTF_8)))
        .isEmpty();

    // The group goes on with node 4 as a voter; both moved nodes keep their state over restarts.
    writeKeys();
    stop(4);
    stop(from);
    start(4, Map.of());
    start(from, Map.of());
    assertThat(drivers[from].hosts(GROUP)).isFalse();
    assertThat(drivers[4].hosts(GROUP)).isTrue();
    await("node 4 votes in group 0 after restart", () -> drivers[4].status(GROUP) != null);
    assertThat(drivers[4].status(GROUP).voters()).contains(4L);
    assertThat(drivers[4].status(GROUP).voters()).doesNotContain((long) from);
  }

  @Test
  void plantedSkipSnapshotDataLeavesTheLearnerWithoutTheData() throws Exception {
    startCluster();
    drivers[4].enableDebugSkipSnapshotData();
    addLearnerAndCatchUp();
    long present = 0;
    for (int i = 0; i < KEYS; i++) {
      if (engines[4]
          .partition(GROUP)
          .get(("key-" + i).getBytes(StandardCharsets.UTF_8))
          .isPresent()) {
        present++;
      }
    }
    assertThat(present).as("keys that arrived with the snapshot").isLessThan(KEYS);
  }

  @Test
  void anEmptyReplicaNeverCampaigns() throws Exception {
    start(4, Map.of());
    assertThat(get(drivers[4].createReplica(GROUP))).isTrue();
    assertThatThrownBy(() -> get(drivers[4].createReplica(PARTITION_COUNT + 1)))
        .hasCauseInstanceOf(IllegalArgumentException.class);
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(500); // 5 election timeouts
    while (System.nanoTime() < deadline) {
      GroupStatus status = drivers[4].status(GROUP);
      assertThat(status.role()).isEqualTo(Role.FOLLOWER);
      assertThat(status.term()).isZero();
      TimeUnit.MILLISECONDS.sleep(10); // sampling interval while time passes
    }
    assertThat(get(drivers[4].destroyReplica(GROUP))).as("no configuration lists it").isTrue();
  }
}
