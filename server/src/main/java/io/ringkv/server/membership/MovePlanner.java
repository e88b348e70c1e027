package io.ringkv.server.membership;

import io.ringkv.proto.internal.ClusterMap;
import io.ringkv.proto.internal.ClusterMember;
import io.ringkv.proto.internal.ReplicaMove;
import io.ringkv.proto.v1.PlannedMove;
import io.ringkv.raft.Invariants;
import io.ringkv.routing.PartitionLayout;
import io.ringkv.server.ring.Placement;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.IntToLongFunction;

/**
 * Where every replica slot should be, given a cluster map, and which slots must move to get there.
 *
 * <p>Pure functions of the map: the coordinator recomputes the plan every round instead of storing
 * a queue of future moves, so a join during a decommission, a crash of the coordinator or a lost
 * compare-and-set all converge on the same target. Only moves already started are recorded in the
 * map ({@code moves}); the rest of the plan is derived again each time.
 *
 * <p>Data partitions are placed by the ring ({@link Placement}) over the ACTIVE members, so a join
 * or a removal of one of N members moves about 1/N of the slots, and only to or from that member.
 * The meta group keeps its ACTIVE voters (moving it is costly and never needed for balance) and
 * fills up to {@code min(meta_replicas_max, active members)} seats (an odd number: one less when
 * even) with the lowest-id ACTIVE non-voters. In a group, each node that must leave is paired with
 * one that must arrive (one slot, one move); leftovers become add-only or remove-only moves.
 */
public final class MovePlanner {
  private MovePlanner() {}

  /**
   * The voters every group should have: index g is group g, the last is the meta group. A data
   * group keeps its effective voters when fewer ACTIVE members than the replication factor remain
   * (no placement exists; removals that would cause this are refused).
   */
  public static List<List<Long>> targetVoters(ClusterMap map) {
    int partitionCount = map.getPartitionCount();
    Set<Long> active = activeIds(map);
    List<List<Long>> targets = new ArrayList<>(partitionCount + 1);
    if (active.size() >= map.getReplicationFactor() && !active.isEmpty()) {
      Placement placement =
          new Placement(active, map.getVirtualTokensPerNode(), map.getReplicationFactor());
      targets.addAll(placement.assign(PartitionLayout.of(partitionCount)));
    } else {
      for (int group = 0; group < partitionCount; group++) {
        targets.add(effectiveVoters(map, group));
      }
    }
    targets.add(metaTarget(map, active));
    Invariants.check(
        targets.size() == map.getGroupsCount(),
        "targets for %d groups, map has %d",
        targets.size(),
        map.getGroupsCount());
    return List.copyOf(targets);
  }

  /**
   * The voters of {@code group} once the moves already running on it finish: the recorded voters
   * with each running move's from_node replaced by its to_node in the same position.
   */
  public static List<Long> effectiveVoters(ClusterMap map, int group) {
    List<Long> voters = map.getGroups(group).getVotersList();
    for (ReplicaMove move : map.getMovesList()) {
      if (move.getGroup() == group) {
        voters = replaced(voters, move.getFromNode(), move.getToNode());
      }
    }
    return voters;
  }

  /**
   * {@code voters} after one slot moves: {@code to} takes {@code from}'s position (appended when
   * from is 0 or absent); either may be 0. Applying it twice changes nothing more.
   */
  public static List<Long> replaced(List<Long> voters, long from, long to) {
    List<Long> result = new ArrayList<>(voters);
    int position = from == 0 ? -1 : result.indexOf(from);
    if (position >= 0) {
      result.remove(position);
    }
    if (to != 0 && !result.contains(to)) {
      result.add(position >= 0 ? position : result.size(), to);
    }
    return List.copyOf(result);
  }

  /**
   * Every slot that must move to reach {@link #targetVoters}, from the effective voters, in group
   * order; phase unset, planned_epoch and planned_at_millis 0 (the caller stamps the ones it
   * starts). {@code bytesEstimate} gives a group's approximate data bytes (negative: unknown).
   */
  public static List<ReplicaMove> plan(ClusterMap map, IntToLongFunction bytesEstimate) {
    List<List<Long>> targets = targetVoters(map);
    List<ReplicaMove> moves = new ArrayList<>();
    for (int group = 0; group < targets.size(); group++) {
      List<Long> current = effectiveVoters(map, group);
      List<Long> target = targets.get(group);
      List<Long> leaving = new ArrayList<>(current);
      leaving.removeAll(target);
      List<Long> arriving = new ArrayList<>(target);
      arriving.removeAll(current);
      int slots = Math.max(leaving.size(), arriving.size());
      for (int slot = 0; slot < slots; slot++) {
        long from = slot < leaving.size() ? leaving.get(slot) : 0;
        long to = slot < arriving.size() ? arriving.get(slot) : 0;
        moves.add(
            ReplicaMove.newBuilder()
                .setGroup(group)
                .setFromNode(from)
                .setToNode(to)
                .setReason(reason(map, group, from, to, target.size()))
                .setBytesEstimate(Math.max(0, bytesEstimate.applyAsLong(group)))
                .build());
      }
    }
    return List.copyOf(moves);
  }

  /**
   * Why removing {@code nodeId} (decommission, or {@code dead}) must be refused, or empty when it
   * may go ahead. Removing a member already REMOVED (or decommissioning again) is not refused: the
   * caller answers it as a repeat.
   */
  public static Optional<String> removalRefusal(ClusterMap map, long nodeId, boolean dead) {
    Optional<ClusterMember> member = member(map, nodeId);
    if (member.isEmpty()) {
      return Optional.of("node " + nodeId + " is not a member of the cluster");
    }
    if (member.get().getState() != ClusterMember.State.ACTIVE) {
      return Optional.empty();
    }
    Set<Long> remaining = activeIds(map);
    remaining.remove(nodeId);
    if (remaining.size() < map.getReplicationFactor()) {
      return Optional.of(
          String.format(
              "cannot %s node %d: %d active members would remain, fewer than the replication"
                  + " factor %d, so its replicas would have nowhere to go; join a node first",
              dead ? "remove dead" : "decommission",
              nodeId,
              remaining.size(),
              map.getReplicationFactor()));
    }
    return Optional.empty();
  }

  /** Data replica slots of the cluster: partitions times replication factor (meta seats apart). */
  public static int slotsTotal(ClusterMap map) {
    return map.getPartitionCount() * map.getReplicationFactor();
  }

  /** The ids of the ACTIVE members, ascending. */
  public static Set<Long> activeIds(ClusterMap map) {
    Set<Long> ids = new TreeSet<>();
    for (ClusterMember member : map.getMembersList()) {
      if (member.getState() == ClusterMember.State.ACTIVE) {
        ids.add(member.getNodeId());
      }
    }
    return ids;
  }

  public static Optional<ClusterMember> member(ClusterMap map, long nodeId) {
    for (ClusterMember member : map.getMembersList()) {
      if (member.getNodeId() == nodeId) {
        return Optional.of(member);
      }
    }
    return Optional.empty();
  }

  /** A move as the Cluster API shows it. */
  public static PlannedMove toPlanned(ReplicaMove move) {
    return PlannedMove.newBuilder()
        .setPartition(move.getGroup())
        .setFromNodeId(move.getFromNode())
        .setToNodeId(move.getToNode())
        .setReason(move.getReason())
        .setBytesEstimate(move.getBytesEstimate())
        .setPhase(phaseName(move.getPhase()))
        .build();
  }

  /** add-learner, catch-up, promote, cleanup; empty for a move not started (a plan). */
  public static String phaseName(ReplicaMove.Phase phase) {
    return switch (phase) {
      case ADD_LEARNER -> "add-learner";
      case CATCH_UP -> "catch-up";
      case PROMOTE -> "promote";
      case CLEANUP -> "cleanup";
      default -> "";
    };
  }

  private static List<Long> metaTarget(ClusterMap map, Set<Long> active) {
    int metaGroup = ClusterMaps.metaGroup(map.getPartitionCount());
    int seatsMax =
        map.getMetaReplicasMax() > 0
            ? map.getMetaReplicasMax()
            : ClusterMaps.META_REPLICAS_MAX_DEFAULT;
    int seats = Math.min(seatsMax, active.size());
    if (seats % 2 == 0 && seats > 1) {
      // An even count tolerates no more failures than the odd count below it and needs a larger
      // quorum: four voters survive one loss, as three do.
      seats--;
    }
    Set<Long> kept = new LinkedHashSet<>();
    for (long voter : effectiveVoters(map, metaGroup)) {
      if (active.contains(voter)) {
        kept.add(voter);
      }
    }
    List<Long> target = new ArrayList<>(kept);
    if (target.size() > seats) {
      // More active voters than seats (the seat count was lowered): keep the lowest ids, the same
      // rule that fills seats, so the result does not depend on recorded order.
      target = new ArrayList<>(new TreeSet<>(kept)).subList(0, seats);
    }
    for (long candidate : active) {
      if (target.size() >= seats) {
        break;
      }
      if (!target.contains(candidate)) {
        target.add(candidate);
      }
    }
    return List.copyOf(target);
  }

  private static String reason(ClusterMap map, int group, long from, long to, int targetSize) {
    String leaves = from == 0 ? "" : leavingReason(map, from);
    if (ClusterMaps.isMeta(group, map.getPartitionCount())) {
      if (from == 0) {
        return "meta group growth to " + targetSize + " voters: node " + to + " takes a seat";
      }
      if (to == 0) {
        return "meta group shrink to " + targetSize + " voters: " + leaves;
      }
      return "meta group: node " + to + " (lowest-id active non-voter) takes the seat; " + leaves;
    }
    if (to == 0) {
      return "partition " + group + " has more voters than the ring places: " + leaves;
    }
    long rangeStart = PartitionLayout.of(map.getPartitionCount()).rangeStart(group);
    long token = Placement.firstTokenFrom(to, map.getVirtualTokensPerNode(), rangeStart);
    String owns =
        String.format(
            "ring token 0x%016x of node %d (walking from the partition's start 0x%016x) makes it"
                + " one of the %d owners",
            token, to, rangeStart, map.getReplicationFactor());
    return from == 0 ? owns + "; the partition is under-replicated" : owns + "; " + leaves;
  }

  private static String leavingReason(ClusterMap map, long from) {
    Optional<ClusterMember> member = member(map, from);
    if (member.isEmpty()) {
      return "node " + from + " is not a member";
    }
    return switch (member.get().getState()) {
      case DECOMMISSIONING -> "node " + from + " leaves (decommission)";
      case REMOVED -> "node " + from + " leaves (removed: " + member.get().getStateReason() + ")";
      default -> "node " + from + " leaves (no longer among the ring's owners)";
    };
  }
}
