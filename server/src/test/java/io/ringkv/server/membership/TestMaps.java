package io.ringkv.server.membership;

import io.ringkv.proto.internal.ClusterMap;
import io.ringkv.proto.internal.ClusterMember;
import io.ringkv.proto.internal.GroupReplicas;
import io.ringkv.proto.internal.ReplicaMove;
import io.ringkv.routing.PartitionLayout;
import io.ringkv.server.ring.Placement;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/** Cluster maps for membership tests, built without a node configuration. */
final class TestMaps {
  static final String CLUSTER_ID = "test-cluster";

  private TestMaps() {}

  /** A fresh cluster's map on {@code nodeIds}, placed like ClusterMaps.initial places it. */
  static ClusterMap initial(
      int partitionCount, int replicationFactor, int virtualTokens, long... nodeIds) {
    Set<Long> ids = new TreeSet<>();
    for (long id : nodeIds) {
      ids.add(id);
    }
    ClusterMap.Builder map =
        ClusterMap.newBuilder()
            .setEpoch(ClusterMaps.INITIAL_EPOCH)
            .setClusterId(CLUSTER_ID)
            .setPartitionCount(partitionCount)
            .setReplicationFactor(replicationFactor)
            .setVirtualTokensPerNode(virtualTokens)
            .setMetaReplicasMax(ClusterMaps.META_REPLICAS_MAX_DEFAULT);
    for (long id : ids) {
      map.addMembers(member(id, ClusterMember.State.ACTIVE));
    }
    for (List<Long> voters :
        new Placement(ids, virtualTokens, replicationFactor)
            .assign(PartitionLayout.of(partitionCount))) {
      map.addGroups(GroupReplicas.newBuilder().addAllVoters(voters).setEpoch(1));
    }
    map.addGroups(GroupReplicas.newBuilder().addAllVoters(ClusterMaps.metaVoters(ids)).setEpoch(1));
    return map.build();
  }

  static ClusterMember member(long id, ClusterMember.State state) {
    return ClusterMember.newBuilder()
        .setNodeId(id)
        .setClientAddress("127.0.3." + id + ":7000")
        .setPeerAddress("127.0.3." + id + ":7001")
        .setState(state)
        .setStateEpoch(1)
        .build();
  }

  /** {@code map} with member {@code id} added ACTIVE. */
  static ClusterMap withActive(ClusterMap map, long id) {
    return map.toBuilder().addMembers(member(id, ClusterMember.State.ACTIVE)).build();
  }

  /** {@code map} with member {@code id} in {@code state}. */
  static ClusterMap withState(ClusterMap map, long id, ClusterMember.State state) {
    ClusterMap.Builder builder = map.toBuilder();
    for (int i = 0; i < builder.getMembersCount(); i++) {
      if (builder.getMembers(i).getNodeId() == id) {
        builder.setMembers(i, builder.getMembers(i).toBuilder().setState(state));
      }
    }
    return builder.build();
  }

  /** {@code map} with every move of {@code moves} finished in its recorded voters. */
  static ClusterMap settled(ClusterMap map, List<ReplicaMove> moves) {
    ClusterMap.Builder builder = map.toBuilder();
    for (ReplicaMove move : moves) {
      GroupReplicas group = builder.getGroups(move.getGroup());
      List<Long> voters =
          MovePlanner.replaced(group.getVotersList(), move.getFromNode(), move.getToNode());
      builder.setGroups(
          move.getGroup(), group.toBuilder().clearVoters().addAllVoters(voters).build());
    }
    return builder.build();
  }
}
