package io.ringkv.jepsen.membership;

import static org.assertj.core.api.Assertions.assertThat;

import io.ringkv.proto.internal.ClusterMap;
import io.ringkv.proto.internal.ReplicaMove;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves a crash in the middle of a move leaves nothing half done: three real nodes on
 * 127.0.5.21-24 (16 partitions, one move at a time, snapshots capped at 64 KiB/s so a move lasts
 * seconds) holding about 2 MB, a light load throughout, and node 4 joining. In one test the meta
 * group's leader is SIGKILLed while a move is past ADD_LEARNER and restarted; in the other the
 * moving replica's target and then its source are SIGKILLed in the middle of a move and restarted.
 * Each time the map then settles with node 4 ACTIVE, every node's own Raft configurations equal the
 * map (no learner, no joint configuration, no replica the map does not place), and every
 * acknowledged write is readable. Runs by name only (see MembershipIT).
 */
class MoveCrashIT {
  static final int PARTITIONS = 16;
  static final Duration SETTLE_BOUND = Duration.ofSeconds(240);
  static final Duration PHASE_BOUND = Duration.ofSeconds(120);
  static final List<String> SLOW_MOVES =
      List.of("--rebalance-moves-concurrent-max", "1", "--rebalance-bytes-per-second-max", "65536");

  @TempDir(cleanup = CleanupMode.ON_SUCCESS) // a failed run keeps its node logs
  Path store;

  @Test
  @Timeout(900)
  void metaLeaderCrashMidMove() throws Exception {
    try (MembershipCluster ring =
            MembershipCluster.start(store, "move-crash-meta", 3, 1, 20, PARTITIONS, SLOW_MOVES);
        RingLoad load = new RingLoad(ring.endpoints(), "c/", 2, 100, 600_000)) {
      startJoiningNode4(ring, load);
      ReplicaMove move =
          awaitMoveIn(ring, false, ReplicaMove.Phase.CATCH_UP, ReplicaMove.Phase.PROMOTE);
      int metaLeader = (int) MapChecks.leaderOf(ring.cluster, PARTITIONS); // the meta group
      assertThat(metaLeader).as("meta leader known").isPositive();
      System.out.printf(
          "killing meta leader %d during %s of %s%n", metaLeader, move.getPhase(), move);
      ring.cluster.kill(metaLeader);
      ring.cluster.restart(metaLeader);
      settleAndCheck(ring, load);
    }
  }

  @Test
  @Timeout(900)
  void targetThenSourceCrashMidMove() throws Exception {
    try (MembershipCluster ring =
            MembershipCluster.start(store, "move-crash-node", 3, 1, 20, PARTITIONS, SLOW_MOVES);
        RingLoad load = new RingLoad(ring.endpoints(), "c/", 2, 100, 600_000)) {
      startJoiningNode4(ring, load);
      ReplicaMove first = awaitMoveIn(ring, false, ReplicaMove.Phase.CATCH_UP);
      System.out.printf("killing target %d during %s%n", first.getToNode(), first);
      ring.cluster.kill((int) first.getToNode());
      ring.cluster.restart((int) first.getToNode());
      ReplicaMove second =
          awaitMoveIn(ring, true, ReplicaMove.Phase.CATCH_UP, ReplicaMove.Phase.PROMOTE);
      System.out.printf("killing source %d during %s%n", second.getFromNode(), second);
      ring.cluster.kill((int) second.getFromNode());
      ring.cluster.restart((int) second.getFromNode());
      settleAndCheck(ring, load);
    }
  }

  /** About 2 MB in 1 KB values, so each partition's snapshot takes seconds at 64 KiB/s. */
  private static void preload(MembershipCluster ring) throws Exception {
    try (RingLoad fill = new RingLoad(ring.endpoints(), "p/", 4, 2000, 2000, 1024)) {
      fill.start();
      fill.awaitFinished(Duration.ofSeconds(120));
      assertThat(fill.acknowledged()).hasSize(2000);
      assertThat(fill.failures()).isEmpty();
    }
  }

  /** A move in one of {@code phases} (with a source node when {@code withSource}), waited for. */
  private static ReplicaMove awaitMoveIn(
      MembershipCluster ring, boolean withSource, ReplicaMove.Phase... phases)
      throws InterruptedException {
    List<ReplicaMove.Phase> wanted = List.of(phases);
    java.util.function.Predicate<ReplicaMove> fits =
        mv -> wanted.contains(mv.getPhase()) && (!withSource || mv.getFromNode() != 0);
    ClusterMap map =
        MapChecks.await(
            ring.control,
            m -> m.getMovesList().stream().anyMatch(fits),
            PHASE_BOUND,
            "a move in " + wanted);
    return map.getMovesList().stream().filter(fits).findFirst().orElseThrow();
  }

  /** Preloads the ring, starts the load, and starts node 4 and adds it: its moves begin. */
  private static void startJoiningNode4(MembershipCluster ring, RingLoad load) throws Exception {
    preload(ring);
    load.start();
    ring.cluster.startSpare(4);
    ring.control.addNode(4);
  }

  private static void settleAndCheck(MembershipCluster ring, RingLoad load) throws Exception {
    MapChecks.await(
        ring.control,
        m -> MapChecks.activeIds(m).contains(4L) && MapChecks.settledAndPlanned(ring.cluster, m),
        SETTLE_BOUND,
        "the join settles after the crash");
    MapChecks.awaitNothingHalfDone(ring.cluster, ring.control, Duration.ofSeconds(60));
    load.stop();
    System.out.printf(
        "load: %d acknowledged, %d failed (a crash may fail an op past its deadline): %s%n",
        load.acknowledged().size(),
        load.failures().size(),
        load.failures().stream().limit(3).toList());
    assertThat(RingLoad.missing(ring.memberEndpoints(), load.acknowledged())).isEmpty();
  }
}
