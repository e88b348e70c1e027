package io.ringkv.jepsen.membership;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.ringkv.jepsen.harness.cluster.ClusterSpec;
import io.ringkv.jepsen.harness.cluster.LocalCluster;
import io.ringkv.jepsen.harness.nemesis.MembershipControl;
import io.ringkv.proto.internal.ClusterMap;
import io.ringkv.proto.internal.ClusterMember;
import io.ringkv.proto.internal.GroupConf;
import io.ringkv.proto.internal.GroupProgressRequest;
import io.ringkv.proto.internal.GroupProgressResponse;
import io.ringkv.proto.internal.ReplicaAdminGrpc;
import io.ringkv.proto.v1.ClusterGrpc;
import io.ringkv.proto.v1.PlanRequest;
import io.ringkv.proto.v1.PlanResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * What the membership tests read from a cluster: the newest cluster map (waited on with a bound),
 * whether it has settled, how many replica slots moved between two maps, and whether every node's
 * own Raft configurations agree with the map (nothing half done).
 */
final class MapChecks {
  private static final Duration POLL_INTERVAL = Duration.ofMillis(200);
  private static final Duration CALL_DEADLINE = Duration.ofSeconds(3);

  private MapChecks() {}

  /** Polls the map until {@code done} holds or {@code bound} passes; fails with the last map. */
  static ClusterMap await(
      MembershipControl control, Predicate<ClusterMap> done, Duration bound, String what)
      throws InterruptedException {
    long deadline = System.nanoTime() + bound.toNanos();
    ClusterMap map = control.clusterMap();
    while (map == null || !done.test(map)) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not within " + bound + ": " + what + "; last map:\n" + map);
      }
      Thread.sleep(POLL_INTERVAL.toMillis()); // polling a condition under a deadline
      map = control.clusterMap();
    }
    return map;
  }

  /**
   * No move left, every data group on exactly replication-factor ACTIVE voters, the meta group on
   * ACTIVE voters only, and none of {@code gone} anywhere but REMOVED.
   */
  static boolean settled(ClusterMap map, long... gone) {
    if (map.getMovesCount() > 0) {
      return false;
    }
    Set<Long> active = activeIds(map);
    for (int g = 0; g < map.getGroupsCount(); g++) {
      List<Long> voters = map.getGroups(g).getVotersList();
      boolean meta = g == map.getPartitionCount();
      if (!meta && voters.size() != map.getReplicationFactor()) {
        return false;
      }
      if (!active.containsAll(voters)) {
        return false;
      }
    }
    for (long node : gone) {
      if (stateOf(map, node) != ClusterMember.State.REMOVED) {
        return false;
      }
    }
    return true;
  }

  /**
   * {@link #settled} and the coordinator plans no further move for this very map: a map records
   * only the moves already started, so right after a change it can look settled before its first
   * moves are written.
   */
  static boolean settledAndPlanned(LocalCluster cluster, ClusterMap map, long... gone) {
    if (!settled(map, gone)) {
      return false;
    }
    for (int node : cluster.memberIds()) {
      if (!cluster.isRunning(node)) {
        continue;
      }
      ManagedChannel channel = channelTo(cluster, node);
      try {
        PlanResponse plan =
            ClusterGrpc.newBlockingStub(channel)
                .withDeadlineAfter(CALL_DEADLINE.toNanos(), TimeUnit.NANOSECONDS)
                .plan(PlanRequest.getDefaultInstance());
        // A plan of a newer map says nothing of this one: its moves may have started since.
        return plan.getMapEpoch() == map.getEpoch() && plan.getMovesCount() == 0;
      } catch (StatusRuntimeException e) {
        // ask the next running node
      } finally {
        channel.shutdownNow();
      }
    }
    return false;
  }

  static Set<Long> activeIds(ClusterMap map) {
    Set<Long> ids = new TreeSet<>();
    for (ClusterMember member : map.getMembersList()) {
      if (member.getState() == ClusterMember.State.ACTIVE) {
        ids.add(member.getNodeId());
      }
    }
    return ids;
  }

  static ClusterMember.State stateOf(ClusterMap map, long node) {
    return map.getMembersList().stream()
        .filter(m -> m.getNodeId() == node)
        .map(ClusterMember::getState)
        .findFirst()
        .orElse(ClusterMember.State.STATE_UNSPECIFIED);
  }

  /**
   * Replica slots of data partitions whose voter in {@code after} was not one in {@code before}.
   */
  static int movedSlots(ClusterMap before, ClusterMap after) {
    int moved = 0;
    for (int g = 0; g < after.getPartitionCount(); g++) {
      Set<Long> old = new HashSet<>(before.getGroups(g).getVotersList());
      for (long voter : after.getGroups(g).getVotersList()) {
        if (!old.contains(voter)) {
          moved++;
        }
      }
    }
    return moved;
  }

  /** Replica slots of data partitions. */
  static int slots(ClusterMap map) {
    return map.getPartitionCount() * map.getReplicationFactor();
  }

  /**
   * Every discrepancy between the map and the nodes' own state: a running member that hosts a group
   * the map does not place on it (or the reverse), a configuration whose voters differ from the
   * map's, a learner left over, or a joint configuration not left. Empty when nothing is half done.
   */
  static List<String> halfDone(LocalCluster cluster, ClusterMap map) {
    List<String> found = new ArrayList<>();
    for (int node : cluster.memberIds()) {
      if (!cluster.isRunning(node)) {
        continue;
      }
      ManagedChannel channel = channelTo(cluster, node);
      try {
        for (int g = 0; g < map.getGroupsCount(); g++) {
          compare(found, node, g, map, progress(channel, cluster, g));
        }
      } finally {
        channel.shutdownNow();
      }
    }
    return found;
  }

  /** Waits (bounded) until {@link #halfDone} finds nothing on the newest map; fails with it. */
  static ClusterMap awaitNothingHalfDone(
      LocalCluster cluster, MembershipControl control, Duration bound) throws InterruptedException {
    long deadline = System.nanoTime() + bound.toNanos();
    while (true) {
      ClusterMap map = control.clusterMap();
      List<String> found = map == null ? List.of("no map") : halfDone(cluster, map);
      if (found.isEmpty()) {
        return map;
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("half done after " + bound + ":\n  " + String.join("\n  ", found));
      }
      Thread.sleep(POLL_INTERVAL.toMillis()); // polling a condition under a deadline
    }
  }

  /** The leader of {@code group} as some running member sees it, or 0 when none knows. */
  static long leaderOf(LocalCluster cluster, int group) {
    for (int node : cluster.memberIds()) {
      if (!cluster.isRunning(node)) {
        continue;
      }
      ManagedChannel channel = channelTo(cluster, node);
      try {
        GroupProgressResponse progress = progress(channel, cluster, group);
        if (progress != null && progress.getLeaderNodeId() != 0) {
          return progress.getLeaderNodeId();
        }
      } finally {
        channel.shutdownNow();
      }
    }
    return 0;
  }

  private static ManagedChannel channelTo(LocalCluster cluster, int node) {
    return NettyChannelBuilder.forAddress(cluster.address(node), ClusterSpec.CLIENT_PORT)
        .usePlaintext()
        .build();
  }

  private static GroupProgressResponse progress(
      ManagedChannel channel, LocalCluster cluster, int g) {
    try {
      return ReplicaAdminGrpc.newBlockingStub(channel)
          .withDeadlineAfter(CALL_DEADLINE.toNanos(), TimeUnit.NANOSECONDS)
          .groupProgress(
              GroupProgressRequest.newBuilder()
                  .setClusterId(cluster.spec().clusterId())
                  .setGroup(g)
                  .build());
    } catch (StatusRuntimeException e) {
      return null;
    }
  }

  private static void compare(
      List<String> found, int node, int g, ClusterMap map, GroupProgressResponse progress) {
    boolean placed = map.getGroups(g).getVotersList().contains((long) node);
    if (progress == null) {
      found.add("node " + node + " did not answer GroupProgress of group " + g);
      return;
    }
    if (progress.getHosted() != placed) {
      found.add(
          "node "
              + node
              + (placed ? " lacks" : " still hosts")
              + " group "
              + g
              + " (map: "
              + placed
              + ")");
      return;
    }
    if (!placed) {
      return;
    }
    GroupConf conf = progress.getConf();
    if (!new TreeSet<>(conf.getVotersList())
        .equals(new TreeSet<>(map.getGroups(g).getVotersList()))) {
      found.add(
          "node "
              + node
              + " group "
              + g
              + " voters "
              + conf.getVotersList()
              + " but the map says "
              + map.getGroups(g).getVotersList());
    }
    if (conf.getLearnersCount() > 0 || conf.getLearnersNextCount() > 0) {
      found.add("node " + node + " group " + g + " keeps learners " + conf);
    }
    if (conf.getVotersOutgoingCount() > 0) {
      found.add("node " + node + " group " + g + " is still joint: " + conf);
    }
  }
}
