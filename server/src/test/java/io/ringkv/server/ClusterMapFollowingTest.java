package io.ringkv.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.ringkv.proto.internal.ClusterMap;
import io.ringkv.proto.internal.ClusterMember;
import io.ringkv.proto.internal.ReplicaMove;
import io.ringkv.proto.v1.ClusterGrpc;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.proto.v1.Member;
import io.ringkv.proto.v1.MembersRequest;
import io.ringkv.proto.v1.PartitionsRequest;
import io.ringkv.proto.v1.PartitionsResponse;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.proto.v1.StatusRequest;
import io.ringkv.proto.v1.StatusResponse;
import io.ringkv.server.config.NodeConfig;
import io.ringkv.server.membership.ClusterMaps;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves a running node's client-facing answers follow the cluster map it adopts: a fixed cluster
 * answers at the initial epoch (1) with every member active; after a newer map is adopted, KV
 * response headers, Status (epoch, members, moves, under-replicated partitions), Members (map
 * state, replica counts) and Partitions (voters, learners, per-partition epoch) all report it. One
 * real node on 127.0.4.1.
 */
class ClusterMapFollowingTest {
  @TempDir Path dataDir;
  private final List<AutoCloseable> toClose = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    LocalTestCluster.closeAll(toClose, new RingkvNode[0]);
  }

  @Test
  void answersFollowTheAdoptedMap() throws Exception {
    NodeConfig config =
        LocalTestCluster.singleNodeConfig(dataDir, "127.0.4.1", "--partitions", "4");
    RingkvNode node = RingkvNode.start(config);
    toClose.add(node);
    ManagedChannel channel = LocalTestCluster.channel(node, toClose);
    ClusterGrpc.ClusterBlockingStub cluster = ClusterGrpc.newBlockingStub(channel);
    KVGrpc.KVBlockingStub kv = KVGrpc.newBlockingStub(channel);

    StatusResponse before = cluster.status(StatusRequest.getDefaultInstance());
    assertThat(before.getMapEpoch()).isEqualTo(ClusterMaps.INITIAL_EPOCH);
    assertThat(before.getMovesList()).isEmpty();
    assertThat(before.getUnderReplicatedPartitions()).isZero();
    assertThat(cluster.members(MembersRequest.getDefaultInstance()).getMembersList())
        .extracting(Member::getMapState, Member::getReplicas)
        .containsExactly(org.assertj.core.groups.Tuple.tuple("active", 4));
    assertThat(put(kv, "a").getHeader().getMapEpoch()).isEqualTo(1);

    ClusterMap initial = node.mapView().current();
    ClusterMap next =
        initial.toBuilder()
            .setEpoch(5)
            .addMembers(
                ClusterMember.newBuilder()
                    .setNodeId(2)
                    .setClientAddress("127.0.4.2:7379")
                    .setPeerAddress("127.0.4.2:7380")
                    .setState(ClusterMember.State.ACTIVE))
            .addMembers(
                ClusterMember.newBuilder()
                    .setNodeId(3)
                    .setClientAddress("127.0.4.3:7379")
                    .setState(ClusterMember.State.REMOVED))
            .setGroups(1, initial.getGroups(1).toBuilder().clearVoters().addVoters(3).setEpoch(4))
            .addMoves(
                ReplicaMove.newBuilder()
                    .setGroup(1)
                    .setFromNode(3)
                    .setToNode(2)
                    .setPhase(ReplicaMove.Phase.CATCH_UP)
                    .setReason("replacement of dead node 3")
                    .setBytesEstimate(4096))
            .build();
    assertThat(node.mapView().adopt(next)).isTrue();

    assertThat(put(kv, "b").getHeader().getMapEpoch()).isEqualTo(5);
    StatusResponse after = cluster.status(StatusRequest.getDefaultInstance());
    assertThat(after.getMapEpoch()).isEqualTo(5);
    assertThat(after.getMemberCount()).isEqualTo(2);
    assertThat(after.getUnderReplicatedPartitions()).isEqualTo(1);
    assertThat(after.getMovesList())
        .singleElement()
        .satisfies(move -> {
          assertThat(move.getPartition()).isEqualTo(1);
          assertThat(move.getPhase()).isEqualTo("catch-up");
          assertThat(move.getReason()).isEqualTo("replacement of dead node 3");
        });
    assertThat(cluster.members(MembersRequest.getDefaultInstance()).getMembersList())
        .extracting(Member::getNodeId, Member::getMapState, Member::getReplicas)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(1L, "active", 3),
            org.assertj.core.groups.Tuple.tuple(2L, "active", 0),
            org.assertj.core.groups.Tuple.tuple(3L, "removed", 1));
    PartitionsResponse partitions = cluster.partitions(PartitionsRequest.getDefaultInstance());
    assertThat(partitions.getMapEpoch()).isEqualTo(5);
    assertThat(partitions.getPartitions(1).getReplicasList()).containsExactly(3L);
    assertThat(partitions.getPartitions(1).getLearnersList()).containsExactly(2L);
    assertThat(partitions.getPartitions(1).getMapEpoch()).isEqualTo(4);
    assertThat(partitions.getPartitions(0).getMapEpoch()).isEqualTo(1);
  }

  private static io.ringkv.proto.v1.PutResponse put(KVGrpc.KVBlockingStub kv, String key) {
    return kv.withDeadlineAfter(10, java.util.concurrent.TimeUnit.SECONDS)
        .put(
            PutRequest.newBuilder()
                .setKey(ByteString.copyFromUtf8(key))
                .setValue(ByteString.copyFromUtf8("v"))
                .build());
  }
}
