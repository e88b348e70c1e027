package io.ringkv.server.membership;

import io.ringkv.proto.internal.ClusterMap;
import io.ringkv.proto.internal.ClusterMember;
import io.ringkv.proto.internal.GroupReplicas;
import io.ringkv.server.config.Member;
import io.ringkv.server.config.NodeConfig;
import io.ringkv.server.ring.Placement;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * The cluster map's fixed facts: where the meta group lives among the groups, the key that holds
 * the map in the meta group's store, and the map a cluster starts with.
 *
 * <p>The meta group is the multi-Raft driver's group {@code partitionCount} (data partitions are 0
 * .. partitionCount - 1), so it is opened, replicated, snapshotted and moved like any partition.
 * Client keys never reach it: keys hash only into data partitions.
 */
public final class ClusterMaps {
  /** Key of the map in the meta group's store; changed only by a Txn comparing its revision. */
  public static final byte[] META_MAP_KEY =
      "\u0000ringkv/meta/cluster-map".getBytes(StandardCharsets.UTF_8);

  /** Voters of the meta group when enough members are active. */
  public static final int META_REPLICAS_MAX_DEFAULT = 5;

  /** The epoch of the map a cluster starts with. */
  public static final long INITIAL_EPOCH = 1;

  private ClusterMaps() {}

  /** The driver group id of the meta group. */
  public static int metaGroup(int partitionCount) {
    return partitionCount;
  }

  /** Whether {@code group} is the meta group of a cluster of {@code partitionCount} partitions. */
  public static boolean isMeta(int group, int partitionCount) {
    return group == partitionCount;
  }

  /**
   * The map every member of a new cluster computes alike from its configuration: the ring's
   * placement over the configured members, and the meta group on the lowest {@link
   * #META_REPLICAS_MAX_DEFAULT} node ids.
   */
  public static ClusterMap initial(NodeConfig config) {
    Set<Long> ids =
        config.members().stream()
            .map(Member::nodeId)
            .collect(Collectors.toCollection(TreeSet::new));
    List<List<Long>> placed =
        new Placement(ids, config.virtualTokensPerNode(), config.replicationFactor())
            .assign(config.partitionLayout());
    ClusterMap.Builder map =
        ClusterMap.newBuilder()
            .setEpoch(INITIAL_EPOCH)
            .setClusterId(config.clusterId())
            .setPartitionCount(config.partitionCount())
            .setReplicationFactor(config.replicationFactor())
            .setVirtualTokensPerNode(config.virtualTokensPerNode())
            .setMetaReplicasMax(META_REPLICAS_MAX_DEFAULT);
    for (Member member : config.members()) {
      map.addMembers(
          ClusterMember.newBuilder()
              .setNodeId(member.nodeId())
              .setClientAddress(member.clientAddress().toString())
              .setPeerAddress(member.peerAddress().toString())
              .setState(ClusterMember.State.ACTIVE)
              .setStateEpoch(INITIAL_EPOCH)
              .setStateReason("initial member"));
    }
    for (List<Long> voters : placed) {
      map.addGroups(GroupReplicas.newBuilder().addAllVoters(voters).setEpoch(INITIAL_EPOCH));
    }
    map.addGroups(GroupReplicas.newBuilder().addAllVoters(metaVoters(ids)).setEpoch(INITIAL_EPOCH));
    return map.build();
  }

  /** The initial meta voters: the lowest node ids, at most {@link #META_REPLICAS_MAX_DEFAULT}. */
  static List<Long> metaVoters(Set<Long> sortedIds) {
    List<Long> voters = new ArrayList<>();
    for (long id : sortedIds) {
      if (voters.size() == META_REPLICAS_MAX_DEFAULT) {
        break;
      }
      voters.add(id);
    }
    return voters;
  }
}
