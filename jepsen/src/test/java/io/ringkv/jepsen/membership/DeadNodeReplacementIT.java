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
 * Proves a node that dies for good is replaced: five real nodes on 127.0.5.11-15 (32 partitions,
 * replication factor 3, gossip's {@code local} preset, {@code dead-node-replace-after-millis} 5000)
 * under 300 puts/s; node 5 is SIGKILLed and never restarted. Within {@link #REPLACE_BOUND} of the
 * kill the map shows it REMOVED, every partition back on 3 ACTIVE voters and no move left; nothing
 * is half done on the four survivors; no client operation failed and every acknowledged write is
 * readable. The bound: gossip's detection on one machine (about 5 s), the 5 s setting, and about 19
 * replica re-creations two at a time, each a snapshot of a few hundred KB, with a wide margin for
 * the shared two-core machine. Prints the time it measured. Runs by name only (see MembershipIT).
 */
class DeadNodeReplacementIT {
  static final Duration REPLACE_BOUND = Duration.ofSeconds(120);

  @TempDir(cleanup = CleanupMode.ON_SUCCESS) // a failed run keeps its node logs
  Path store;

  @Test
  @Timeout(600)
  void aDeadNodesReplicasComeBackElsewhere() throws Exception {
    List<String> flags =
        List.of("--gossip-preset", "local", "--dead-node-replace-after-millis", "5000");
    try (MembershipCluster ring =
            MembershipCluster.start(store, "dead-node-it", 5, 0, 10, 32, flags);
        RingLoad load = new RingLoad(ring.endpoints(), "d/", 4, 300, 600_000)) {
      load.start();
      MapChecks.await(
          ring.control,
          m -> MapChecks.settledAndPlanned(ring.cluster, m),
          Duration.ofSeconds(30),
          "settled");
      ClusterMap before = ring.control.clusterMap();
      long held =
          before.getGroupsList().subList(0, before.getPartitionCount()).stream()
              .filter(g -> g.getVotersList().contains(5L))
              .count();
      long killed = System.nanoTime();
      ring.control.retire(5);
      ClusterMap after =
          MapChecks.await(
              ring.control,
              m -> MapChecks.settledAndPlanned(ring.cluster, m, 5),
              REPLACE_BOUND,
              "node 5 replaced");
      double seconds = (System.nanoTime() - killed) / 1e9;
      System.out.printf(
          "dead node 5 (held %d replicas) replaced in %.1f s after SIGKILL; %d slots moved%n",
          held, seconds, MapChecks.movedSlots(before, after));
      assertThat(MapChecks.movedSlots(before, after)).isEqualTo((int) held);
      MapChecks.awaitNothingHalfDone(ring.cluster, ring.control, Duration.ofSeconds(30));
      load.stop();
      assertThat(load.failures()).isEmpty();
      assertThat(RingLoad.missing(ring.memberEndpoints(), load.acknowledged())).isEmpty();
    }
  }
}
