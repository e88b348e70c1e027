package io.ringkv.server.membership;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.ringkv.proto.internal.ClusterMap;
import io.ringkv.proto.internal.ClusterMember;
import io.ringkv.proto.internal.ReplicaMove;
import io.ringkv.proto.v1.AddNodeRequest;
import io.ringkv.proto.v1.AddNodeResponse;
import io.ringkv.proto.v1.PlanRequest;
import io.ringkv.proto.v1.PlanResponse;
import io.ringkv.proto.v1.RemoveNodeRequest;
import io.ringkv.server.config.MembershipSettings;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongUnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Proves the coordinator against an in-memory cluster (FakeCluster, FakeMapStore): joins,
 * decommissions and dead-node replacements converge to the ring's placement with every group's Raft
 * configuration, the map's voters and the hosted replicas in agreement; a coordinator that crashes
 * right after writing any phase is replaced by a new one that finishes the work; every step done
 * twice (its record lost) is harmless; refusals come back as FAILED_PRECONDITION or
 * INVALID_ARGUMENT; the cap on concurrent moves holds; the leader never removes itself; and seeded
 * runs with failing calls, lost writes, coordinator crashes and nodes down for a few rounds still
 * converge.
 */
class RebalancerTest {
  private static final int PARTITIONS = 8;
  private static final int REPLICATION = 3;
  private static final int TOKENS = 16;
  private static final int MOVES_MAX = 2;
  private static final int ROUNDS_MAX = 400;
  private static final long DEAD_AFTER_MILLIS = 60_000;
  private static final int RANDOM_RUNS = 50;
  private static final int NODE_DOWN_ROUNDS_MAX = 8;

  private final AtomicLong deadMillis = new AtomicLong(-1);
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final MembershipMetrics metrics = new MembershipMetrics(registry);
  private FakeMapStore store;
  private FakeCluster cluster;
  private final AtomicReference<Rebalancer> coordinator = new AtomicReference<>();
  private Runnable beforeRound = () -> {};

  private void start(long... ids) {
    ClusterMap map = TestMaps.initial(PARTITIONS, REPLICATION, TOKENS, 1, 2, 3);
    store = new FakeMapStore(map);
    cluster = new FakeCluster(map);
    beforeRound = () -> {};
    coordinator.set(newCoordinator());
    for (long id : ids) {
      if (id > 3) {
        join(id);
        runUntilQuiet();
      }
    }
    store.written.clear();
  }

  private Rebalancer newCoordinator() {
    MembershipSettings settings =
        new MembershipSettings(List.of(), MOVES_MAX, 1 << 20, DEAD_AFTER_MILLIS);
    LongUnaryOperator deadFor = node -> node == 4 ? deadMillis.get() : -1;
    return new Rebalancer(
        store,
        cluster,
        settings,
        Clock.fixed(Instant.ofEpochMilli(1_000_000), ZoneOffset.UTC),
        deadFor,
        metrics);
  }

  private AddNodeResponse join(long id) {
    cluster.running(id);
    return coordinator
        .get()
        .addNode(AddNodeRequest.newBuilder().setClientAddress(address(id)).build())
        .join();
  }

  private static String address(long id) {
    return TestMaps.member(id, ClusterMember.State.ACTIVE).getClientAddress();
  }

  /** Rounds until the map records no move and nothing is left to plan; returns rounds taken. */
  private int runUntilQuiet() {
    for (int round = 1; round <= ROUNDS_MAX; round++) {
      beforeRound.run();
      cluster.tick();
      coordinator.get().runOnce().join();
      ClusterMap map = store.map();
      if (map.getMovesCount() == 0
          && MovePlanner.plan(map, group -> 0).isEmpty()
          && map.getMembersList().stream()
              .noneMatch(m -> m.getState() == ClusterMember.State.DECOMMISSIONING)) {
        return round;
      }
    }
    fail("not quiet after " + ROUNDS_MAX + " rounds: " + store.map().getMovesList());
    return -1;
  }

  /** Map voters = target = Raft voters, no learners left, replicas hosted exactly by voters. */
  private void assertConverged(Set<Long> stopped) {
    ClusterMap map = store.map();
    List<List<Long>> targets = MovePlanner.targetVoters(map);
    for (int group = 0; group <= PARTITIONS; group++) {
      Set<Long> recorded = new HashSet<>(map.getGroups(group).getVotersList());
      assertEquals(new HashSet<>(targets.get(group)), recorded, "group " + group + " target");
      assertEquals(recorded, new HashSet<>(cluster.voters(group)), "group " + group + " conf");
      assertEquals(List.of(), cluster.learners(group), "group " + group + " learners");
    }
    for (ClusterMember member : map.getMembersList()) {
      if (stopped.contains(member.getNodeId())) {
        continue;
      }
      Set<Integer> expected = new HashSet<>();
      for (int group = 0; group <= PARTITIONS; group++) {
        if (map.getGroups(group).getVotersList().contains(member.getNodeId())) {
          expected.add(group);
        }
      }
      assertEquals(expected, cluster.hostedBy(member.getNodeId()), "node " + member.getNodeId());
    }
    assertEquals(List.of(), cluster.violations);
    for (ClusterMap written : store.written) {
      assertTrue(written.getMovesCount() <= MOVES_MAX, "cap exceeded: " + written.getMovesList());
    }
  }

  @Test
  void joinOfAFourthNodeMovesItsSlotsAndConverges() {
    start(1, 2, 3);
    AddNodeResponse response = join(4);
    assertEquals(4, response.getNodeId());
    assertEquals(2, response.getMapEpoch());
    assertFalse(response.getMovesList().isEmpty());
    assertTrue(response.getMovesList().stream().allMatch(move -> move.getToNodeId() == 4));
    assertTrue(response.getMovesList().stream().allMatch(move -> move.getBytesEstimate() > 0));
    assertEquals("active", response.getMembers(3).getMapState());

    int rounds = runUntilQuiet();
    assertConverged(Set.of());
    System.out.printf(
        "join of node 4: %d moves in %d rounds, %d map writes%n",
        response.getMovesCount(), rounds, store.written.size());
    // A repeated AddNode changes nothing.
    assertEquals(store.map().getEpoch(), join(4).getMapEpoch());
    double finished =
        registry.find("ringkv.membership.moves.finished").counters().stream()
            .mapToDouble(counter -> counter.count())
            .sum();
    assertEquals(response.getMovesCount(), (int) finished);
    long bytes = response.getMovesList().stream().mapToLong(m -> m.getBytesEstimate()).sum();
    assertEquals(bytes, registry.get("ringkv.membership.moved.bytes").counter().count());
    assertEquals(0.0, registry.get("ringkv.membership.moves.in.progress").gauge().value());
  }

  @Test
  void decommissionMovesEverythingOffAndEndsRemoved() {
    start(1, 2, 3, 4);
    coordinator.get().removeNode(RemoveNodeRequest.newBuilder().setNodeId(2).build()).join();
    assertEquals(
        ClusterMember.State.DECOMMISSIONING, MovePlanner.member(store.map(), 2).get().getState());
    runUntilQuiet();
    assertConverged(Set.of());
    ClusterMember two = MovePlanner.member(store.map(), 2).get();
    assertEquals(ClusterMember.State.REMOVED, two.getState());
    assertEquals("decommission finished", two.getStateReason());
    assertEquals(Set.of(), cluster.hostedBy(2));
  }

  @Test
  void deadNodeIsReplacedAfterTheSettingAndItsReplicasAreNotWaitedFor() {
    start(1, 2, 3, 4);
    cluster.stop(4);
    deadMillis.set(DEAD_AFTER_MILLIS - 1);
    coordinator.get().runOnce().join();
    assertEquals(ClusterMember.State.ACTIVE, MovePlanner.member(store.map(), 4).get().getState());

    deadMillis.set(DEAD_AFTER_MILLIS);
    coordinator.get().runOnce().join();
    ClusterMember four = MovePlanner.member(store.map(), 4).get();
    assertEquals(ClusterMember.State.REMOVED, four.getState());
    assertTrue(four.getStateReason().startsWith("replaced"), four.getStateReason());
    assertTrue(registry.get("ringkv.membership.under.replicated.partitions").gauge().value() > 0);

    runUntilQuiet();
    assertConverged(Set.of(4L));
    for (int group = 0; group <= PARTITIONS; group++) {
      assertFalse(store.map().getGroups(group).getVotersList().contains(4L));
    }
    assertEquals(
        0.0, registry.get("ringkv.membership.under.replicated.partitions").gauge().value());
  }

  @Test
  void refusalsAndBadInputSurfaceAsStatuses() {
    start(1, 2, 3);
    Rebalancer rebalancer = coordinator.get();
    assertStatus(
        Status.Code.FAILED_PRECONDITION,
        "cannot decommission node 3: 2 active members would remain",
        rebalancer.removeNode(RemoveNodeRequest.newBuilder().setNodeId(3).build()));
    assertStatus(
        Status.Code.FAILED_PRECONDITION,
        "cannot remove dead node 3",
        rebalancer.removeNode(RemoveNodeRequest.newBuilder().setNodeId(3).setDead(true).build()));
    assertStatus(
        Status.Code.INVALID_ARGUMENT,
        "node 9 is not a member",
        rebalancer.removeNode(RemoveNodeRequest.newBuilder().setNodeId(9).build()));
    assertStatus(
        Status.Code.INVALID_ARGUMENT,
        "client_address is required",
        rebalancer.addNode(AddNodeRequest.getDefaultInstance()));
    assertStatus(
        Status.Code.UNAVAILABLE,
        "nothing answers",
        rebalancer.addNode(AddNodeRequest.newBuilder().setClientAddress("127.0.3.59:1").build()));
    cluster.running(5);
    assertStatus(
        Status.Code.FAILED_PRECONDITION,
        "says it is node 5, not 6",
        rebalancer.addNode(
            AddNodeRequest.newBuilder().setClientAddress(address(5)).setNodeId(6).build()));
    PlanResponse refused =
        rebalancer.plan(PlanRequest.newBuilder().setRemoveNodeId(2).build()).join();
    assertTrue(refused.getRefusal().startsWith("cannot decommission node 2"));
    assertEquals(0, refused.getMovesCount());
    assertEquals(1, store.map().getEpoch(), "nothing was written");
  }

  @Test
  void removedIdsAreNeverReused() {
    start(1, 2, 3, 4);
    coordinator
        .get()
        .removeNode(RemoveNodeRequest.newBuilder().setNodeId(4).setDead(true).build())
        .join();
    assertStatus(
        Status.Code.FAILED_PRECONDITION,
        "node id 4 was removed; ids are never reused",
        coordinator
            .get()
            .addNode(AddNodeRequest.newBuilder().setClientAddress(address(4)).build()));
  }

  @Test
  void aNodeThatDoesNotSayItsPeerAddressTakesItFromTheRequestOrIsRefused() {
    start(1, 2, 3);
    cluster.running(4, "");
    assertStatus(
        Status.Code.FAILED_PRECONDITION,
        "did not say its peer address",
        coordinator
            .get()
            .addNode(AddNodeRequest.newBuilder().setClientAddress(address(4)).build()));
    AddNodeResponse added =
        coordinator
            .get()
            .addNode(
                AddNodeRequest.newBuilder()
                    .setClientAddress(address(4))
                    .setPeerAddress("127.0.3.4:7001")
                    .build())
            .join();
    assertEquals("127.0.3.4:7001", added.getMembers(3).getPeerAddress());
  }

  @Test
  void planShowsTheJoinWithoutChangingTheMap() {
    start(1, 2, 3);
    cluster.running(4);
    PlanResponse plan =
        coordinator.get().plan(PlanRequest.newBuilder().setJoinAddress(address(4)).build()).join();
    assertEquals(PARTITIONS * REPLICATION, plan.getSlotsTotal());
    assertEquals(1 / 4.0, plan.getTheoreticalShare());
    assertEquals("", plan.getRefusal());
    assertTrue(plan.getMovesList().stream().allMatch(move -> move.getToNodeId() == 4));
    assertTrue(plan.getMoves(0).getReason().contains("ring token 0x"));
    assertEquals(1, store.map().getEpoch());
    assertEquals(plan.getMovesList(), join(4).getMovesList());
  }

  @Test
  void planOfARemovalShowsOnlyTheLeavingNodesSlots() {
    start(1, 2, 3, 4);
    PlanResponse plan =
        coordinator.get().plan(PlanRequest.newBuilder().setRemoveNodeId(2).build()).join();
    assertEquals("", plan.getRefusal());
    assertFalse(plan.getMovesList().isEmpty());
    assertTrue(plan.getMovesList().stream().allMatch(move -> move.getFromNodeId() == 2));
    assertEquals(1 / 4.0, plan.getTheoreticalShare());
    PlanResponse nothing = coordinator.get().plan(PlanRequest.getDefaultInstance()).join();
    assertEquals(0, nothing.getMovesCount(), "a settled cluster has nothing left to move");
    assertEquals(0.0, nothing.getTheoreticalShare());
    assertEquals(ClusterMember.State.ACTIVE, MovePlanner.member(store.map(), 2).get().getState());
  }

  @Test
  void aJoinDuringADecommissionConverges() {
    start(1, 2, 3, 4);
    coordinator.get().removeNode(RemoveNodeRequest.newBuilder().setNodeId(2).build()).join();
    for (int round = 0; round < 3; round++) {
      cluster.tick();
      coordinator.get().runOnce().join();
    }
    assertTrue(store.map().getMovesCount() > 0, "the decommission is under way");
    join(5);
    runUntilQuiet();
    assertConverged(Set.of());
    assertEquals(ClusterMember.State.REMOVED, MovePlanner.member(store.map(), 2).get().getState());
    assertEquals(Set.of(), cluster.hostedBy(2));
  }

  @ParameterizedTest
  @EnumSource(
      value = ReplicaMove.Phase.class,
      names = {"ADD_LEARNER", "CATCH_UP", "PROMOTE", "CLEANUP"})
  void aCoordinatorCrashAfterWritingAnyPhaseIsResumedByANewOne(ReplicaMove.Phase phase) {
    start(1, 2, 3, 4);
    AtomicLong crashes = new AtomicLong();
    store.afterWrite =
        written -> {
          boolean reached = written.getMovesList().stream().anyMatch(m -> m.getPhase() == phase);
          if (reached && crashes.get() < 3) {
            crashes.incrementAndGet();
            // The old coordinator is gone with its memory; a new meta leader takes over.
            coordinator.set(newCoordinator());
          }
        };
    // A decommission (moves with both halves) and then a join exercise every phase.
    coordinator.get().removeNode(RemoveNodeRequest.newBuilder().setNodeId(1).build()).join();
    runUntilQuiet();
    join(5);
    runUntilQuiet();
    assertEquals(3, crashes.get(), "crashes at " + phase);
    assertConverged(Set.of());
  }

  @Test
  void everyStepDoneTwiceIsHarmless() {
    start(1, 2, 3, 4);
    AtomicLong writes = new AtomicLong();
    // Every other round's write is lost after its steps were acted on: each step runs again.
    store.loseWrite = written -> writes.incrementAndGet() % 2 == 0;
    coordinator.get().removeNode(RemoveNodeRequest.newBuilder().setNodeId(3).build()).join();
    runUntilQuiet();
    join(5);
    runUntilQuiet();
    assertConverged(Set.of());
    assertTrue(registry.get("ringkv.membership.map.writes.lost").counter().count() > 0);
    System.out.println("calls with lost writes: " + cluster.calls);
  }

  @Test
  void aMoveToANodeThatStartsLeavingIsAbortedAndItsLearnerRemoved() {
    start(1, 2, 3);
    join(5);
    // Run until a move to node 5 is catching up (node 5 is a learner somewhere).
    for (int round = 0; round < ROUNDS_MAX; round++) {
      cluster.tick();
      coordinator.get().runOnce().join();
      if (store.map().getMovesList().stream()
          .anyMatch(m -> m.getPhase() == ReplicaMove.Phase.CATCH_UP && m.getToNode() == 5)) {
        break;
      }
    }
    int learnerGroup =
        store.map().getMovesList().stream()
            .filter(m -> m.getPhase() == ReplicaMove.Phase.CATCH_UP)
            .findFirst()
            .orElseThrow()
            .getGroup();
    assertTrue(cluster.learners(learnerGroup).contains(5L));
    join(4);
    coordinator.get().removeNode(RemoveNodeRequest.newBuilder().setNodeId(5).build()).join();
    runUntilQuiet();
    assertConverged(Set.of());
    assertEquals(ClusterMember.State.REMOVED, MovePlanner.member(store.map(), 5).get().getState());
    assertEquals(Set.of(), cluster.hostedBy(5));
  }

  @Test
  void aLeaderThatCannotHandOverIsRemovedAfterTheTransferAttempts() {
    start(1, 2, 3, 4);
    cluster.transferRefused = true;
    coordinator.get().removeNode(RemoveNodeRequest.newBuilder().setNodeId(1).build()).join();
    runUntilQuiet();
    // Node 1 led every group of the initial map; each removal happened with it still leading.
    assertFalse(cluster.violations.isEmpty());
    assertTrue(cluster.violations.stream().allMatch(v -> v.contains("leader 1 removed")));
    cluster.violations.clear();
    assertConverged(Set.of());
    assertEquals(ClusterMember.State.REMOVED, MovePlanner.member(store.map(), 1).get().getState());
  }

  @Test
  void randomCrashesLostWritesAndFailingCallsStillConverge() {
    // -Drebalancer.seed=S replays the one run of seed S.
    String replay = System.getProperty("rebalancer.seed");
    long baseSeed = replay != null ? Long.parseLong(replay) : System.nanoTime();
    System.out.println("RebalancerTest base seed " + baseSeed);
    for (int run = 0; run < (replay != null ? 1 : RANDOM_RUNS); run++) {
      long seed = baseSeed + run;
      try {
        runRandomly(new Random(seed));
      } catch (AssertionError e) {
        throw new AssertionError("seed " + seed + ": " + e.getMessage(), e);
      }
    }
  }

  /** Joins 4 and 5, decommissions 2, with failing calls, lost writes and coordinator crashes. */
  private void runRandomly(Random random) {
    start(1, 2, 3);
    cluster.flaky(random, 0.2);
    store.loseWrite = written -> random.nextDouble() < 0.2;
    store.afterWrite =
        written -> {
          if (random.nextDouble() < 0.2) {
            coordinator.set(newCoordinator());
          }
        };
    // At most one node down at a time, for up to NODE_DOWN_ROUNDS_MAX rounds.
    long[] down = {0, 0};
    beforeRound =
        () -> {
          if (down[0] != 0 && --down[1] <= 0) {
            cluster.start(down[0]);
            down[0] = 0;
          } else if (down[0] == 0 && random.nextDouble() < 0.05) {
            List<ClusterMember> present =
                store.map().getMembersList().stream()
                    .filter(m -> m.getState() != ClusterMember.State.REMOVED)
                    .toList();
            down[0] = present.get(random.nextInt(present.size())).getNodeId();
            down[1] = 1 + random.nextInt(NODE_DOWN_ROUNDS_MAX);
            cluster.stop(down[0]);
          }
        };
    retryCommand(() -> join(4));
    retryCommand(() -> join(5));
    runUntilQuiet();
    retryCommand(() ->
        coordinator.get().removeNode(RemoveNodeRequest.newBuilder().setNodeId(2).build()).join());
    runUntilQuiet();
    beforeRound = () -> {};
    if (down[0] != 0) {
      cluster.start(down[0]);
    }
    cluster.flaky(random, 0);
    runUntilQuiet();
    assertConverged(Set.of());
  }

  /** Operator commands may fail on a flaky cluster; the operator repeats them (bounded). */
  private static void retryCommand(Runnable command) {
    for (int attempt = 0; attempt < 50; attempt++) {
      try {
        command.run();
        return;
      } catch (RuntimeException e) {
        // Retried: the command is idempotent.
      }
    }
    fail("command failed 50 times");
  }

  private static void assertStatus(
      Status.Code code, String messagePart, CompletableFuture<?> future) {
    ExecutionException thrown = assertThrows(ExecutionException.class, future::get);
    assertTrue(thrown.getCause() instanceof StatusRuntimeException, thrown.getCause().toString());
    Status status = ((StatusRuntimeException) thrown.getCause()).getStatus();
    assertEquals(code, status.getCode(), status.toString());
    assertTrue(status.getDescription().contains(messagePart), status.getDescription());
  }
}
