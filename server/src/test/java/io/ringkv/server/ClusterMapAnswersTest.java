package io.ringkv.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.ringkv.proto.internal.ClusterMap;
import io.ringkv.proto.internal.ClusterMember;
import io.ringkv.proto.internal.GroupReplicas;
import io.ringkv.proto.internal.ReplicaMove;
import io.ringkv.proto.v1.PlannedMove;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Proves what the Cluster API reads out of a cluster map: replica counts over data partitions only
 * (not the meta group), moves in the API's words, learners only once a move is past ADD_LEARNER,
 * and under-replicated partitions counting a REMOVED voter as missing.
 */
class ClusterMapAnswersTest {
  /** 3 partitions at replication 2 on nodes 1..3, meta on 1..3; node 3 removed as dead. */
  static ClusterMap map() {
    return ClusterMap.newBuilder()
        .setEpoch(7)
        .setPartitionCount(3)
        .setReplicationFactor(2)
        .addMembers(member(1, ClusterMember.State.ACTIVE))
        .addMembers(member(2, ClusterMember.State.DECOMMISSIONING))
        .addMembers(member(3, ClusterMember.State.REMOVED))
        .addMembers(member(4, ClusterMember.State.ACTIVE))
        .addGroups(group(1, 2))
        .addGroups(group(2, 3))
        .addGroups(group(1))
        .addGroups(group(1, 2, 3))
        .addMoves(move(1, 3, 4, ReplicaMove.Phase.CATCH_UP))
        .addMoves(move(0, 2, 4, ReplicaMove.Phase.ADD_LEARNER))
        .addMoves(move(2, 0, 4, ReplicaMove.Phase.PROMOTE))
        .build();
  }

  static ClusterMember member(long id, ClusterMember.State state) {
    return ClusterMember.newBuilder()
        .setNodeId(id)
        .setClientAddress("127.0.4." + id + ":7379")
        .setPeerAddress("127.0.4." + id + ":7380")
        .setState(state)
        .build();
  }

  static GroupReplicas group(long... voters) {
    GroupReplicas.Builder group = GroupReplicas.newBuilder().setEpoch(5);
    for (long voter : voters) {
      group.addVoters(voter);
    }
    return group.build();
  }

  static ReplicaMove move(int group, long from, long to, ReplicaMove.Phase phase) {
    return ReplicaMove.newBuilder()
        .setGroup(group)
        .setFromNode(from)
        .setToNode(to)
        .setPhase(phase)
        .setReason("join of node " + to)
        .setBytesEstimate(1000 + group)
        .build();
  }

  @Test
  void replicaCountsCoverDataPartitionsOnly() {
    assertThat(ClusterMapAnswers.replicaCounts(map()))
        .containsOnly(
            java.util.Map.entry(1L, 2), java.util.Map.entry(2L, 2), java.util.Map.entry(3L, 1));
  }

  @Test
  void underReplicatedCountsRemovedVotersAsMissing() {
    // partition 1 (voters 2, 3 with 3 removed) and partition 2 (voter 1 only)
    assertThat(ClusterMapAnswers.underReplicatedPartitions(map())).isEqualTo(2);
    ClusterMap healthy =
        map().toBuilder().setGroups(1, group(2, 4)).setGroups(2, group(1, 4)).build();
    assertThat(ClusterMapAnswers.underReplicatedPartitions(healthy)).isZero();
  }

  @Test
  void movesInTheApiWords() {
    List<PlannedMove> moves = ClusterMapAnswers.moves(map());
    assertThat(moves)
        .extracting(PlannedMove::getPhase)
        .containsExactly("catch-up", "add-learner", "promote");
    assertThat(moves.getFirst())
        .isEqualTo(
            PlannedMove.newBuilder()
                .setPartition(1)
                .setFromNodeId(3)
                .setToNodeId(4)
                .setReason("join of node 4")
                .setBytesEstimate(1001)
                .setPhase("catch-up")
                .build());
  }

  @Test
  void learnersAppearOnlyPastAddLearner() {
    assertThat(ClusterMapAnswers.learners(map(), 0)).isEmpty();
    assertThat(ClusterMapAnswers.learners(map(), 1)).containsExactly(4L);
    assertThat(ClusterMapAnswers.learners(map(), 2)).containsExactly(4L);
  }

  @Test
  void mapStatesAndLiveMembers() {
    assertThat(ClusterMapAnswers.mapState(ClusterMember.State.DECOMMISSIONING))
        .isEqualTo("decommissioning");
    assertThat(ClusterMapAnswers.liveMemberCount(map())).isEqualTo(3);
  }
}
