package io.ringkv.server;

import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.ringkv.proto.v1.ClusterGrpc;
import io.ringkv.proto.v1.Member;
import io.ringkv.proto.v1.MembersRequest;
import io.ringkv.proto.v1.MembersResponse;
import io.ringkv.proto.v1.PartitionInfo;
import io.ringkv.proto.v1.PartitionsRequest;
import io.ringkv.proto.v1.PartitionsResponse;
import io.ringkv.proto.v1.StatusRequest;
import io.ringkv.proto.v1.StatusResponse;
import io.ringkv.routing.PartitionLayout;
import io.ringkv.server.config.NodeConfig;
import io.ringkv.server.ring.Placement;
import io.ringkv.server.transport.PeerTransport;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The Cluster service as far as it can be answered before the meta Raft group exists: the
 * configured members (ALIVE when a peer connection is up, else unknown), and the initial placement
 * computed from them (map epoch 0, no leaders, no Raft progress). TransferLeader, AddNode and
 * RemoveNode answer UNIMPLEMENTED until the multi-Raft driver exists.
 */
final class StaticClusterService extends ClusterGrpc.ClusterImplBase {
  private final NodeConfig config;
  private final PeerTransport transport;
  private final PartitionLayout layout;
  private final List<List<Long>> replicas;

  StaticClusterService(NodeConfig config, PeerTransport transport) {
    this.config = config;
    this.transport = transport;
    this.layout = config.partitionLayout();
    Set<Long> nodeIds =
        config.members().stream()
            .map(io.ringkv.server.config.Member::nodeId)
            .collect(Collectors.toSet());
    this.replicas =
        new Placement(nodeIds, config.virtualTokensPerNode(), config.replicationFactor())
            .assign(layout);
  }

  @Override
  public void status(StatusRequest request, StreamObserver<StatusResponse> observer) {
    observer.onNext(
        StatusResponse.newBuilder()
            .setClusterId(config.clusterId())
            .setNodeId(config.nodeId())
            .setVersion(RingkvNode.VERSION)
            .setMapEpoch(0)
            .setPartitionCount(layout.partitionCount())
            .setReplicationFactor(config.replicationFactor())
            .setMemberCount(config.members().size())
            .build());
    observer.onCompleted();
  }

  @Override
  public void members(MembersRequest request, StreamObserver<MembersResponse> observer) {
    MembersResponse.Builder response = MembersResponse.newBuilder().setMapEpoch(0);
    for (io.ringkv.server.config.Member member : config.members()) {
      boolean alive = member.nodeId() == config.nodeId() || transport.isConnected(member.nodeId());
      response.addMembers(
          Member.newBuilder()
              .setNodeId(member.nodeId())
              .setClientAddress(member.clientAddress().toString())
              .setPeerAddress(member.peerAddress().toString())
              .setState(alive ? Member.State.ALIVE : Member.State.STATE_UNSPECIFIED));
    }
    observer.onNext(response.build());
    observer.onCompleted();
  }

  @Override
  public void partitions(PartitionsRequest request, StreamObserver<PartitionsResponse> observer) {
    if (request.getPartitionsCount() > layout.partitionCount()) {
      observer.onError(
          Status.INVALID_ARGUMENT
              .withDescription(
                  "asked for "
                      + request.getPartitionsCount()
                      + " partitions, there are "
                      + layout.partitionCount())
              .asRuntimeException());
      return;
    }
    for (int partition : request.getPartitionsList()) {
      if (partition < 0 || partition >= layout.partitionCount()) {
        observer.onError(
            Status.INVALID_ARGUMENT
                .withDescription(
                    "no partition "
                        + Integer.toUnsignedString(partition)
                        + " (there are "
                        + layout.partitionCount()
                        + ")")
                .asRuntimeException());
        return;
      }
    }
    List<Integer> wanted =
        request.getPartitionsCount() == 0
            ? java.util.stream.IntStream.range(0, layout.partitionCount()).boxed().toList()
            : request.getPartitionsList();
    PartitionsResponse.Builder response =
        PartitionsResponse.newBuilder().setMapEpoch(0).setPartitionCount(layout.partitionCount());
    for (int partition : wanted) {
      response.addPartitions(
          PartitionInfo.newBuilder()
              .setId(partition)
              .setHashStart(layout.rangeStart(partition))
              .setHashEnd(layout.rangeEnd(partition))
              .addAllReplicas(replicas.get(partition)));
    }
    observer.onNext(response.build());
    observer.onCompleted();
  }
}
