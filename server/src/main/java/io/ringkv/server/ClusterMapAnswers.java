package io.ringkv.server;

import io.ringkv.proto.internal.ClusterMap;
import io.ringkv.proto.internal.ClusterMember;
import io.ringkv.proto.internal.ReplicaMove;
import io.ringkv.proto.v1.PlannedMove;
import io.ringkv.raft.Invariants;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What the Cluster service reads out of a cluster map, kept apart from the service so it can be
 * checked without a node: member states in the words the API uses, replica counts, moves in
 * progress, under-replicated partitions.
 */
final class ClusterMapAnswers {
  private ClusterMapAnswers() {}

  /**
   * Checks that {@code map} fits this node's layout (the partition count never changes, and the map
   * holds one group per partition plus the meta group) and returns it.
   */
  static ClusterMap checked(ClusterMap map, int partitionCount) {
    Invariants.check(
        map.getPartitionCount() == partitionCount && map.getGroupsCount() == partitionCount + 1,
        "cluster map epoch %d has %d partitions and %d groups; this node has %d partitions",
        map.getEpoch(),
        map.getPartitionCount(),
        map.getGroupsCount(),
        partitionCount);
    return map;
  }

  /** The API's word for a map state: "active", "decommissioning" or "removed". */
  static String mapState(ClusterMember.State state) {
    return switch (state) {
      case ACTIVE -> "active";
      case DECOMMISSIONING -> "decommissioning";
      case REMOVED -> "removed";
      case STATE_UNSPECIFIED, UNRECOGNIZED -> "";
    };
  }

  /** The API's word for a move's phase. */
  static String phase(ReplicaMove.Phase phase) {
    return switch (phase) {
      case ADD_LEARNER -> "add-learner";
      case CATCH_UP -> "catch-up";
      case PROMOTE -> "promote";
      case CLEANUP -> "cleanup";
      case PHASE_UNSPECIFIED, UNRECOGNIZED -> "";
    };
  }

  /**
   * Data-partition voters the map records on each node (finished moves only; the meta group is not
   * counted, so the numbers add up to partitions x replication factor).
   */
  static Map<Long, Integer> replicaCounts(ClusterMap map) {
    Map<Long, Integer> counts = new HashMap<>();
    for (int group = 0; group < dataGroups(map); group++) {
      for (long voter : map.getGroups(group).getVotersList()) {
        counts.merge(voter, 1, Integer::sum);
      }
    }
    return counts;
  }

  /** The map's moves in progress, as the public API shows them. */
  static List<PlannedMove> moves(ClusterMap map) {
    List<PlannedMove> result = new ArrayList<>(map.getMovesCount());
    for (ReplicaMove move : map.getMovesList()) {
      result.add(
          PlannedMove.newBuilder()
              .setPartition(move.getGroup())
              .setFromNodeId(move.getFromNode())
              .setToNodeId(move.getToNode())
              .setReason(move.getReason())
              .setBytesEstimate(move.getBytesEstimate())
              .setPhase(phase(move.getPhase()))
              .build());
    }
    return result;
  }

  /**
   * Data partitions with fewer voters than the replication factor, counting only voters the map
   * does not hold REMOVED (a node removed as dead still sits among the voters until its slot's move
   * finishes, and its partitions are short of a replica all that time).
   */
  static int underReplicatedPartitions(ClusterMap map) {
    Set<Long> removed = new HashSet<>();
    for (ClusterMember member : map.getMembersList()) {
      if (member.getState() == ClusterMember.State.REMOVED) {
        removed.add(member.getNodeId());
      }
    }
    int count = 0;
    for (int group = 0; group < dataGroups(map); group++) {
      long live =
          map.getGroups(group).getVotersList().stream().filter(v -> !removed.contains(v)).count();
      if (live < map.getReplicationFactor()) {
        count++;
      }
    }
    return count;
  }

  /**
   * Nodes joining {@code partition} as learners: the targets of its moves past ADD_LEARNER (the
   * phase is recorded before it is acted on, so a move in ADD_LEARNER may not have a learner yet).
   */
  static List<Long> learners(ClusterMap map, int partition) {
    List<Long> result = new ArrayList<>();
    for (ReplicaMove move : map.getMovesList()) {
      if (move.getGroup() == partition
          && move.getToNode() != 0
          && (move.getPhase() == ReplicaMove.Phase.CATCH_UP
              || move.getPhase() == ReplicaMove.Phase.PROMOTE)) {
        result.add(move.getToNode());
      }
    }
    return result;
  }

  /** Members the map does not hold REMOVED. */
  static int liveMemberCount(ClusterMap map) {
    return (int)
        map.getMembersList().stream()
            .filter(m -> m.getState() != ClusterMember.State.REMOVED)
            .count();
  }

  private static int dataGroups(ClusterMap map) {
    return Math.min(map.getPartitionCount(), map.getGroupsCount());
  }
}
