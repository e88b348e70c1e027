package io.ringkv.server;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.ringkv.gossip.MemberState;
import io.ringkv.proto.v1.ClusterGrpc;
import io.ringkv.proto.v1.Member;
import io.ringkv.proto.v1.MembersRequest;
import io.ringkv.proto.v1.MembersResponse;
import io.ringkv.proto.v1.PartitionInfo;
import io.ringkv.proto.v1.PartitionsRequest;
import io.ringkv.proto.v1.PartitionsResponse;
import io.ringkv.proto.v1.StatusRequest;
import io.ringkv.proto.v1.StatusResponse;
import io.ringkv.proto.v1.TransferLeaderRequest;
import io.ringkv.proto.v1.TransferLeaderResponse;
import io.ringkv.raft.Role;
import io.ringkv.routing.PartitionLayout;
import io.ringkv.server.config.NodeConfig;
import io.ringkv.server.gossip.GossipStatus;
import io.ringkv.server.gossip.NodeGossip;
import io.ringkv.server.raft.DriverException;
import io.ringkv.server.raft.GroupStatus;
import io.ringkv.server.raft.MultiRaftDriver;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.LongPredicate;
import java.util.stream.IntStream;

/**
 * The Cluster service from this node's view: configured members with gossip's verdict on each
 * (state, incarnation, time since last heard, whether it says it is slow; with gossip off, ALIVE
 * when this node has a peer connection to them), the static placement (map epoch 1) with the Raft
 * progress of local replicas, and leader transfer (forwarded once to the leader this node knows).
 * AddNode and RemoveNode stay UNIMPLEMENTED until a meta group drives placement.
 */
final class ClusterService extends ClusterGrpc.ClusterImplBase {
  static final long TRANSFER_POLL_MILLIS = 20;

  private final NodeConfig config;
  private final PartitionLayout layout;
  private final List<List<Long>> replicas;
  private final MultiRaftDriver driver;
  private final PeerChannels peers;
  private final LongPredicate peerConnected;
  private final NodeGossip gossip;

  /**
   * @param gossip this node's gossip, or null when it is off
   */
  ClusterService(
      NodeConfig config,
      List<List<Long>> replicas,
      MultiRaftDriver driver,
      PeerChannels peers,
      LongPredicate peerConnected,
      NodeGossip gossip) {
    this.config = config;
    this.layout = config.partitionLayout();
    this.replicas = replicas;
    this.driver = driver;
    this.peers = peers;
    this.peerConnected = peerConnected;
    this.gossip = gossip;
  }

  @Override
  public void status(StatusRequest request, StreamObserver<StatusResponse> observer) {
    int withLeader = 0;
    int ledLocally = 0;
    int withoutQuorum = 0;
    for (int partition = 0; partition < layout.partitionCount(); partition++) {
      GroupStatus status = driver.status(partition);
      if (status != null && status.leaderId() != 0) {
        withLeader++;
      }
      if (status != null && status.role() == Role.LEADER) {
        ledLocally++;
      }
      long live = replicas.get(partition).stream().filter(this::alive).count();
      if (live * 2 <= replicas.get(partition).size()) {
        withoutQuorum++;
      }
    }
    List<Member> members = members();
    StatusResponse.Builder response =
        StatusResponse.newBuilder()
            .setClusterId(config.clusterId())
            .setNodeId(config.nodeId())
            .setVersion(RingkvNode.VERSION)
            .setMapEpoch(KvErrors.MAP_EPOCH)
            .setPartitionCount(layout.partitionCount())
            .setReplicationFactor(config.replicationFactor())
            .setMemberCount(config.members().size())
            .setPartitionsWithLeader(withLeader)
            .setPartitionsLedLocally(ledLocally)
            .setPartitionsWithoutQuorum(withoutQuorum)
            .setGossipEnabled(gossip != null)
            .setSlow(driver.isSlow())
            .addAllMembers(members);
    if (gossip != null) {
      response
          .setGossipPreset(config.gossip().preset())
          .setLocalHealthScore(gossip.localHealthScore());
    }
    observer.onNext(response.build());
    observer.onCompleted();
  }

  /** Alive or merely suspected by gossip (with gossip off: connected). */
  private boolean alive(long nodeId) {
    if (nodeId == config.nodeId()) {
      return true;
    }
    if (gossip == null) {
      return peerConnected.test(nodeId);
    }
    MemberState state = gossip.state(nodeId);
    return state == MemberState.ALIVE || state == MemberState.SUSPECT;
  }

  /** Every configured member as this node sees it. */
  private List<Member> members() {
    Map<Long, GossipStatus.Member> seen = new HashMap<>();
    if (gossip != null) {
      for (GossipStatus.Member member : gossip.latestStatus().members()) {
        seen.put(NodeGossip.nodeId(member.view().memberId()), member);
      }
    }
    List<Member> result = new ArrayList<>();
    for (io.ringkv.server.config.Member member : config.members()) {
      Member.Builder proto =
          Member.newBuilder()
              .setNodeId(member.nodeId())
              .setClientAddress(member.clientAddress().toString())
              .setPeerAddress(member.peerAddress().toString())
              .setMillisSinceHeard(-1);
      GossipStatus.Member view = seen.get(member.nodeId());
      if (gossip == null) {
        proto.setState(
            alive(member.nodeId()) ? Member.State.ALIVE : Member.State.STATE_UNSPECIFIED);
      } else if (view != null) {
        proto
            .setState(state(view.view().state()))
            .setIncarnation(view.view().incarnation())
            .setMillisSinceHeard(view.millisSinceHeard())
            .setDegraded(view.view().degraded());
      }
      result.add(proto.build());
    }
    return result;
  }

  private static Member.State state(MemberState state) {
    return switch (state) {
      case ALIVE -> Member.State.ALIVE;
      case SUSPECT -> Member.State.SUSPECT;
      case DEAD -> Member.State.DEAD;
      case LEFT -> Member.State.LEFT;
    };
  }

  @Override
  public void members(MembersRequest request, StreamObserver<MembersResponse> observer) {
    observer.onNext(
        MembersResponse.newBuilder()
            .setMapEpoch(KvErrors.MAP_EPOCH)
            .setNodeId(config.nodeId())
            .addAllMembers(members())
            .build());
    observer.onCompleted();
  }

  @Override
  public void partitions(PartitionsRequest request, StreamObserver<PartitionsResponse> observer) {
    if (request.getPartitionsCount() > layout.partitionCount()) {
      observer.onError(
          KvErrors.limit("partition-count", layout.partitionCount(), request.getPartitionsCount()));
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
            ? IntStream.range(0, layout.partitionCount()).boxed().toList()
            : request.getPartitionsList();
    PartitionsResponse.Builder response =
        PartitionsResponse.newBuilder()
            .setMapEpoch(KvErrors.MAP_EPOCH)
            .setPartitionCount(layout.partitionCount());
    for (int partition : wanted) {
      PartitionInfo.Builder info =
          PartitionInfo.newBuilder()
              .setId(partition)
              .setHashStart(layout.rangeStart(partition))
              .setHashEnd(layout.rangeEnd(partition))
              .addAllReplicas(replicas.get(partition))
              .setMapEpoch(KvErrors.MAP_EPOCH);
      GroupStatus status = driver.status(partition);
      if (status != null) {
        info.setLeaderNodeId(status.leaderId())
            .setTerm(status.term())
            .setCommitIndex(status.commitIndex())
            .setAppliedIndex(status.appliedIndex());
      }
      response.addPartitions(info);
    }
    observer.onNext(response.build());
    observer.onCompleted();
  }

  @Override
  public void transferLeader(
      TransferLeaderRequest request, StreamObserver<TransferLeaderResponse> observer) {
    try {
      observer.onNext(transfer(request));
      observer.onCompleted();
    } catch (StatusRuntimeException e) {
      observer.onError(e);
    }
  }

  private TransferLeaderResponse transfer(TransferLeaderRequest request) {
    int partition = request.getPartition();
    if (partition < 0 || partition >= layout.partitionCount()) {
      throw KvErrors.malformed("no partition " + Integer.toUnsignedString(partition));
    }
    if (!replicas.get(partition).contains(request.getToNodeId())) {
      throw KvErrors.malformed(
          "node " + request.getToNodeId() + " is not a voter of partition " + partition);
    }
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(remainingMillis());
    GroupStatus status = driver.status(partition);
    if (status == null || status.role() != Role.LEADER) {
      long leader = status == null ? replicas.get(partition).getFirst() : status.leaderId();
      if (ForwardingHeaders.isForwarded() || leader == 0 || leader == config.nodeId()) {
        throw KvErrors.notLeader(partition, leader, leader == 0 ? "" : peers.clientAddress(leader));
      }
      return peers
          .cluster(leader)
          .withDeadlineAfter(deadline - System.nanoTime(), TimeUnit.NANOSECONDS)
          .transferLeader(request);
    }
    try {
      driver
          .transferLeader(partition, request.getToNodeId())
          .get(remainingMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof DriverException d) {
        throw KvErrors.notLeader(partition, d.leaderHint(), peers.clientAddress(d.leaderHint()));
      }
      throw Status.INTERNAL.withDescription(e.getCause().toString()).asRuntimeException();
    } catch (Exception e) {
      throw Status.UNAVAILABLE.withDescription(e.toString()).asRuntimeException();
    }
    GroupStatus now = driver.status(partition);
    while (System.nanoTime() < deadline && now.leaderId() != request.getToNodeId()) {
      try {
        Thread.sleep(TRANSFER_POLL_MILLIS); // polling interval, bounded by the call's deadline
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
      now = driver.status(partition);
    }
    return TransferLeaderResponse.newBuilder()
        .setLeaderNodeId(now.leaderId())
        .setTerm(now.term())
        .build();
  }

  private static long remainingMillis() {
    io.grpc.Deadline deadline = io.grpc.Context.current().getDeadline();
    long budget = KvService.CALL_TIMEOUT_MILLIS_DEFAULT;
    return deadline == null
        ? budget
        : Math.max(
            0,
            Math.min(
                budget,
                deadline.timeRemaining(TimeUnit.MILLISECONDS) - KvService.DEADLINE_MARGIN_MILLIS));
  }
}
