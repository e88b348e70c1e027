package io.ringkv.client;

import io.ringkv.proto.v1.Member;
import io.ringkv.proto.v1.MembersResponse;
import io.ringkv.proto.v1.PartitionInfo;
import io.ringkv.proto.v1.PartitionsResponse;
import io.ringkv.routing.KeyHasher;
import io.ringkv.routing.PartitionLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An immutable snapshot of the cluster's partition map and member addresses, as one node told it.
 * It answers "which nodes should serve this key, best first": the partition's leader when known,
 * then its other replicas. Members the answering node's gossip holds dead (or gone) come last of
 * all, so the client tries live nodes first without ever having nowhere to go. Keys go to
 * partitions through {@link KeyHasher} and {@link PartitionLayout}, the same code the server uses.
 * Members the cluster map holds REMOVED are left out altogether: a removed node is never tried.
 */
final class PartitionMap {
  /** The Members answer's map state of a node removed from the cluster. */
  static final String REMOVED = "removed";

  private final long epoch;
  private final PartitionLayout layout;
  private final PartitionInfo[] partitions;
  private final Map<Long, String> addressByNode;
  private final Set<Long> goneNodes;

  private PartitionMap(
      long epoch,
      PartitionLayout layout,
      PartitionInfo[] partitions,
      Map<Long, String> addresses,
      Set<Long> goneNodes) {
    this.epoch = epoch;
    this.layout = layout;
    this.partitions = partitions;
    this.addressByNode = addresses;
    this.goneNodes = goneNodes;
  }

  /**
   * Builds a map from a full Partitions answer and a Members answer.
   *
   * @throws IllegalArgumentException if the answer is not a complete map consistent with {@link
   *     PartitionLayout} (a node answering garbage must not send requests astray)
   */
  static PartitionMap of(PartitionsResponse partitionsResponse, MembersResponse membersResponse) {
    PartitionLayout layout = PartitionLayout.of(partitionsResponse.getPartitionCount());
    PartitionInfo[] byId = new PartitionInfo[layout.partitionCount()];
    for (PartitionInfo info : partitionsResponse.getPartitionsList()) {
      int id = info.getId();
      if (id < 0 || id >= byId.length) {
        throw new IllegalArgumentException("partition " + id + " outside [0, " + byId.length + ")");
      }
      if (info.getHashStart() != layout.rangeStart(id)
          || info.getHashEnd() != layout.rangeEnd(id)) {
        throw new IllegalArgumentException(
            "partition "
                + id
                + " range ["
                + Long.toUnsignedString(info.getHashStart())
                + ", "
                + Long.toUnsignedString(info.getHashEnd())
                + "] does not match a layout of "
                + layout.partitionCount()
                + " partitions");
      }
      byId[id] = info;
    }
    for (int id = 0; id < byId.length; id++) {
      if (byId[id] == null) {
        throw new IllegalArgumentException("partition map lacks partition " + id);
      }
    }
    Map<Long, String> addresses = new HashMap<>();
    Set<Long> gone = new HashSet<>();
    for (Member member : membersResponse.getMembersList()) {
      if (REMOVED.equals(member.getMapState())) {
        continue; // removed from the cluster map for good: never a candidate again
      }
      if (!member.getClientAddress().isEmpty()) {
        addresses.put(member.getNodeId(), member.getClientAddress());
      }
      if (member.getState() == Member.State.DEAD || member.getState() == Member.State.LEFT) {
        gone.add(member.getNodeId());
      }
    }
    return new PartitionMap(
        partitionsResponse.getMapEpoch(), layout, byId, Map.copyOf(addresses), Set.copyOf(gone));
  }

  long epoch() {
    return epoch;
  }

  int partitionOf(byte[] key) {
    return layout.partitionOfKey(key);
  }

  PartitionInfo partition(int id) {
    return partitions[id];
  }

  /**
   * Client addresses of live nodes for {@code key}'s partition: the leader first (when known), then
   * replicas. Nodes gossip holds dead are left out (see {@link #goneAddresses}).
   */
  List<String> candidatesFor(byte[] key) {
    PartitionInfo info = partitions[partitionOf(key)];
    LinkedHashSet<String> result = new LinkedHashSet<>();
    long leaderId = info.getLeaderNodeId();
    String leader = addressByNode.get(leaderId);
    if (leaderId != 0 && leader != null && !goneNodes.contains(leaderId)) {
      result.add(leader);
    }
    for (long replica : info.getReplicasList()) {
      String address = addressByNode.get(replica);
      if (address != null && !goneNodes.contains(replica)) {
        result.add(address);
      }
    }
    return new ArrayList<>(result);
  }

  /** Client addresses of members gossip holds dead or gone, sorted: the last resort. */
  List<String> goneAddresses() {
    List<String> result = new ArrayList<>();
    for (long node : goneNodes) {
      String address = addressByNode.get(node);
      if (address != null) {
        result.add(address);
      }
    }
    result.sort(null);
    return result;
  }

  /** The leader's client address of {@code key}'s partition, or null when unknown. */
  String leaderFor(byte[] key) {
    long leader = partitions[partitionOf(key)].getLeaderNodeId();
    return leader == 0 ? null : addressByNode.get(leader);
  }

  int partitionCount() {
    return partitions.length;
  }

  /** Client addresses of the nodes holding a replica of {@code partition}, in replica order. */
  List<String> replicaAddresses(int partition) {
    List<String> result = new ArrayList<>();
    for (long replica : partitions[partition].getReplicasList()) {
      String address = addressByNode.get(replica);
      if (address != null) {
        result.add(address);
      }
    }
    return result;
  }

  /** Whether every known member holds a replica of every partition (nodes <= replication). */
  boolean everyMemberHoldsEveryPartition() {
    for (PartitionInfo info : partitions) {
      if (!info.getReplicasList().containsAll(addressByNode.keySet())) {
        return false;
      }
    }
    return true;
  }

  /** Client addresses of the members not held dead, sorted. */
  List<String> memberAddresses() {
    List<String> result = new ArrayList<>();
    addressByNode.forEach((node, address) -> {
      if (!goneNodes.contains(node)) {
        result.add(address);
      }
    });
    result.sort(null);
    return result;
  }

  /** This map with {@code partition}'s leader replaced by the node at {@code leaderAddress}. */
  PartitionMap withLeader(int partition, long leaderNodeId) {
    if (partition < 0 || partition >= partitions.length) {
      return this;
    }
    PartitionInfo[] copy = Arrays.copyOf(partitions, partitions.length);
    copy[partition] = copy[partition].toBuilder().setLeaderNodeId(leaderNodeId).build();
    return new PartitionMap(epoch, layout, copy, addressByNode, goneNodes);
  }
}
