package io.ringkv.jepsen.membership;

import static org.assertj.core.api.Assertions.assertThat;

import io.ringkv.proto.internal.ClusterMap;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves the ring grows and shrinks under load, with real node processes on 127.0.5.1-5: three
 * nodes, 32 partitions, replication factor 3, and 300 puts/s through the Java client throughout;
 * node 4 and then node 5 start in join mode and are added (Cluster.AddNode), then nodes 1 and 2 are
 * decommissioned (Cluster.RemoveNode) back to three. After each change the map settles within
 * {@link #SETTLE_BOUND}, nothing is half done (every node's Raft configurations equal the map), and
 * the replica slots that moved are within {@link #SHARE_MARGIN} (or 3 slots) of the ring's
 * theoretical share (slots / nodes) for a join, and exactly the leaving node's slots for a
 * decommission. At the end no client operation failed and every acknowledged write is readable.
 * Prints the numbers it measured. Runs by name only:
 *
 * <pre>flock /tmp/ringkv-realnode.lock ./mvnw -B -q -pl jepsen -am test -Dtest=MembershipIT \
 *   -Dsurefire.failIfNoSpecifiedTests=false</pre>
 */
class MembershipIT {
  static final Duration SETTLE_BOUND = Duration.ofSeconds(180);
  static final double SHARE_MARGIN = 0.35;
  static final double LOAD_PUTS_PER_SECOND = 300;

  @TempDir(cleanup = CleanupMode.ON_SUCCESS) // a failed run keeps its node logs
  Path store;

  @Test
  @Timeout(900)
  void joinTwoThenDecommissionTwoUnderLoad() throws Exception {
    try (MembershipCluster ring =
            MembershipCluster.start(store, "membership-it", 3, 2, 0, 32, List.of());
        RingLoad load = new RingLoad(ring.endpoints(), "m/", 4, LOAD_PUTS_PER_SECOND, 600_000)) {
      load.start();
      ClusterMap before = ring.control.clusterMap();
      for (int node : List.of(4, 5)) {
        ring.cluster.startSpare(node);
        long began = System.nanoTime();
        ring.control.addNode(node);
        ClusterMap after =
            MapChecks.await(
                ring.control,
                m ->
                    MapChecks.activeIds(m).contains((long) node)
                        && MapChecks.settledAndPlanned(ring.cluster, m),
                SETTLE_BOUND,
                "join of node " + node + " settles");
        double seconds = (System.nanoTime() - began) / 1e9;
        int moved = MapChecks.movedSlots(before, after);
        double share = (double) MapChecks.slots(after) / MapChecks.activeIds(after).size();
        System.out.printf(
            "join of node %d: %d of %d slots moved (theory %.1f) in %.1f s, epoch %d%n",
            node, moved, MapChecks.slots(after), share, seconds, after.getEpoch());
        assertThat((double) moved)
            .isCloseTo(
                share, org.assertj.core.data.Offset.offset(Math.max(3, SHARE_MARGIN * share)));
        MapChecks.awaitNothingHalfDone(ring.cluster, ring.control, Duration.ofSeconds(30));
        before = after;
      }
      for (int node : List.of(1, 2)) {
        long held =
            before.getGroupsList().subList(0, before.getPartitionCount()).stream()
                .filter(g -> g.getVotersList().contains((long) node))
                .count();
        long began = System.nanoTime();
        ring.control.decommission(node);
        ClusterMap after =
            MapChecks.await(
                ring.control,
                m -> MapChecks.settledAndPlanned(ring.cluster, m, node),
                SETTLE_BOUND,
                "decommission of node " + node + " settles");
        double seconds = (System.nanoTime() - began) / 1e9;
        int moved = MapChecks.movedSlots(before, after);
        System.out.printf(
            "decommission of node %d: %d slots moved (it held %d) in %.1f s, epoch %d%n",
            node, moved, held, seconds, after.getEpoch());
        assertThat(moved).isEqualTo((int) held);
        ring.control.retire(node);
        MapChecks.awaitNothingHalfDone(ring.cluster, ring.control, Duration.ofSeconds(30));
        before = after;
      }
      load.stop();
      System.out.printf(
          "load: %d puts acknowledged, %d failed%n",
          load.acknowledged().size(), load.failures().size());
      assertThat(load.failures()).isEmpty();
      assertThat(load.acknowledged()).hasSizeGreaterThan(1000);
      assertThat(RingLoad.missing(ring.memberEndpoints(), load.acknowledged())).isEmpty();
    }
  }
}
