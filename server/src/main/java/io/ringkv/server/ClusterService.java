package io.ringkv.server;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.ringkv.gossip.MemberState;
import io.ringkv.proto.internal.ClusterMap;
import io.ringkv.proto.internal.ClusterMember;
import io.ringkv.proto.v1.AddNodeRequest;
import io.ringkv.proto.v1.AddNodeResponse;
import io.ringkv.proto.v1.ClusterGrpc;
import io.ringkv.proto.v1.Member;
import io.ringkv.proto.v1.MembersRequest;
import io.ringkv.proto.v1.MembersResponse;
import io.ringkv.proto.v1.PartitionInfo;
import io.ringkv.proto.v1.PartitionsRequest;
import io.ringkv.proto.v1.PartitionsResponse;
import io.ringkv.proto.v1.PlanRequest;
import io.ringkv.proto.v1.PlanResponse;
import io.ringkv.proto.v1.RemoveNodeRequest;
import io.ringkv.proto.v1.RemoveNodeResponse;
import io.ringkv.proto.v1.StatusRequest;
import io.ringkv.proto.v1.StatusResponse;
import io.ringkv.proto.v1.TransferLeaderRequest;
import io.ringkv.proto.v1.TransferLeaderResponse;
import io.ringkv.raft.Role;
import io.ringkv.routing.PartitionLayout;
import io.ringkv.server.config.NodeConfig;
import io.ringkv.server.gossip.GossipStatus;
import io.ringkv.server.gossip.NodeGossip;
import io.ringkv.server.membership.ClusterMapView;
import io.ringkv.server.membership.MembershipCommands;
import io.ringkv.server.raft.DriverException;
import io.ringkv.server.raft.GroupStatus;
import io.ringkv.server.raft.MultiRaftDriver;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.LongPredicate;
import java.util.stream.IntStream;

/**
 * The Cluster service from this node's view: the cluster map's members (their map state and replica
 * count) with gossip's verdict on each (state, incarnation, time since last heard, whether it says
 * it is slow; with gossip off, ALIVE when this node has a peer connection to them), the map's
 * placement and epoch with the Raft progress of local replicas, the map's moves in progress, and
 * leader transfer (forwarded once to the leader this node knows). AddNode, RemoveNode and Plan are
 * handed to {@link MembershipCommands}; without one they answer UNIMPLEMENTED.
 *
 * <p>Every answer reads the map once ({@link ClusterMapView#current()}) so its parts agree with the
 * epoch it reports.
 */
final class ClusterService extends ClusterGrpc.ClusterImplBase {
  static final long TRANSFER_POLL_MILLIS = 20;

  private final NodeConfig config;
  private final PartitionLayout layout;
  private final ClusterMapView mapView;
  private final MultiRaftDriver driver;
  private final PeerChannels peers;
  private final LongPredicate peerConnected;
  private final NodeGossip gossip;
  private final MembershipCommands membership;

  /**
   * @param gossip this node's gossip, or null when it is off
   * @param membership decides AddNode, RemoveNode and Plan; null: they answer UNIMPLEMENTED
   */
  ClusterService(
      NodeConfig config,
      ClusterMapView mapView,
      MultiRaftDriver driver,
      PeerChannels peers,
      LongPredicate peerConnected,
      NodeGossip gossip,
      MembershipCommands membership) {
    this.config = config;
    this.layout = config.partitionLayout();
    this.mapView = mapView;
    this.membership = membership;
    this.driver = driver;
    this.peers = peers;
    this.peerConnected = peerConnected;
    this.gossip = gossip;
  }

  @Override
  public void status(StatusRequest request, StreamObserver<StatusResponse> observer) {
    ClusterMap map = map();
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
      List<Long> voters = map.getGroups(partition).getVotersList();
      long live = voters.stream().filter(this::alive).count();
      if (live * 2 <= voters.size()) {
        withoutQuorum++;
      }
    }
    List<Member> members = members(map);
    StatusResponse.Builder response =
        StatusResponse.newBuilder()
            .setClusterId(config.clusterId())
            .setNodeId(config.nodeId())
            .setVersion(RingkvNode.VERSION)
            .setMapEpoch(map.getEpoch())
            .setPartitionCount(layout.partitionCount())
            .setReplicationFactor(map.getReplicationFactor())
            .setMemberCount(ClusterMapAnswers.liveMemberCount(map))
            .setPartitionsWithLeader(withLeader)
            .setPartitionsLedLocally(ledLocally)
            .setPartitionsWithoutQuorum(withoutQuorum)
            .setGossipEnabled(gossip != null)
            .setSlow(driver.isSlow())
            .addAllMembers(members)
            .addAllMoves(ClusterMapAnswers.moves(map))
            .setUnderReplicatedPartitions(ClusterMapAnswers.underReplicatedPartitions(map));
    if (gossip != null) {
      response
          .setGossipPreset(config.gossip().preset())
          .setLocalHealthScore(gossip.localHealthScore());
    }
    observer.onNext(response.build());
    observer.onCompleted();
  }

  /** The current map, checked against this node's layout. */
  private ClusterMap map() {
    return ClusterMapAnswers.checked(mapView.current(), layout.partitionCount());
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

  /** Every member of the map (removed ones too, so clients drop them) as this node sees it. */
  private List<Member> members(ClusterMap map) {
    Map<Long, GossipStatus.Member> seen = new HashMap<>();
    if (gossip != null) {
      for (GossipStatus.Member member : gossip.latestStatus().members()) {
        seen.put(NodeGossip.nodeId(member.view().memberId()), member);
      }
    }
    Map<Long, Integer> replicaCounts = ClusterMapAnswers.replicaCounts(map);
    List<Member> result = new ArrayList<>();
    for (ClusterMember member : map.getMembersList()) {
      Member.Builder proto =
          Member.newBuilder()
              .setNodeId(member.getNodeId())
              .setClientAddress(member.getClientAddress())
              .setPeerAddress(member.getPeerAddress())
              .setMillisSinceHeard(-1)
              .setMapState(ClusterMapAnswers.mapState(member.getState()))
              .setReplicas(replicaCounts.getOrDefault(member.getNodeId(), 0));
      GossipStatus.Member view = seen.get(member.getNodeId());
      if (gossip == null) {
        proto.setState(
            alive(member.getNodeId()) ? Member.State.ALIVE : Member.State.STATE_UNSPECIFIED);
      } else if (view != null) {
        proto
            .setState(state(view.view().state()))
            .setIncarnation(view.view().incarnation())
            .setMillisSinceHeard(view.millisSinceHeard())
            .setDegraded(view.view().degraded());
      }
      result.add(proto.build());
    }
    if (map.getMembersList().stream().noneMatch(m -> m.getNodeId() == config.nodeId())) {
      // A node started in join mode, not yet added: it still says who it is, so AddNode learns
      // its peer address from this answer.
      result.add(
          Member.newBuilder()
              .setNodeId(config.nodeId())
              .setClientAddress(config.advertiseClientAddress().toString())
              .setPeerAddress(config.advertisePeerAddress().toString())
              .setState(Member.State.ALIVE)
              .setMapState("joining")
              .build());
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
    ClusterMap map = map();
    observer.onNext(
        MembersResponse.newBuilder()
            .setMapEpoch(map.getEpoch())
            .setNodeId(config.nodeId())
            .addAllMembers(members(map))
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
    ClusterMap map = map();
    PartitionsResponse.Builder response =
        PartitionsResponse.newBuilder()
            .setMapEpoch(map.getEpoch())
            .setPartitionCount(layout.partitionCount());
    for (int partition : wanted) {
      PartitionInfo.Builder info =
          PartitionInfo.newBuilder()
              .setId(partition)
              .setHashStart(layout.rangeStart(partition))
              .setHashEnd(layout.rangeEnd(partition))
              .addAllReplicas(map.getGroups(partition).getVotersList())
              .addAllLearners(ClusterMapAnswers.learners(map, partition))
              .setMapEpoch(map.getGroups(partition).getEpoch());
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
    // The meta group (partition == partitionCount) too: a move takes leadership off a leaving node.
    if (partition < 0 || partition > layout.partitionCount()) {
      throw KvErrors.malformed("no partition " + Integer.toUnsignedString(partition));
    }
    GroupStatus local = driver.status(partition);
    List<Long> mapVoters = mapView.votersOf(partition);
    // The local configuration counts too: a move's new voter is in it before the map records it.
    if (!mapVoters.contains(request.getToNodeId())
        && (local == null || !local.voters().contains(request.getToNodeId()))) {
      throw KvErrors.malformed(
          "node " + request.getToNodeId() + " is not a voter of partition " + partition);
    }
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(remainingMillis());
    GroupStatus status = local;
    if (status == null || status.role() != Role.LEADER) {
      long leader =
          status != null ? status.leaderId() : mapVoters.isEmpty() ? 0 : mapVoters.getFirst();
      if (ForwardingHeaders.isForwarded() || leader == 0 || leader == config.nodeId()) {
        throw KvErrors.notLeader(
            partition, leader, leader == 0 ? "" : peers.clientAddress(leader), mapView.epoch());
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
        throw KvErrors.notLeader(
            partition, d.leaderHint(), peers.clientAddress(d.leaderHint()), mapView.epoch());
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

  @Override
  public void addNode(AddNodeRequest request, StreamObserver<AddNodeResponse> observer) {
    if (request.getClientAddress().isBlank()) {
      observer.onError(KvErrors.malformed("client_address is required (the joining node's)"));
      return;
    }
    delegate(observer, commands -> commands.addNode(request));
  }

  @Override
  public void removeNode(RemoveNodeRequest request, StreamObserver<RemoveNodeResponse> observer) {
    if (request.getNodeId() == 0) {
      observer.onError(KvErrors.malformed("node_id is required"));
      return;
    }
    delegate(observer, commands -> commands.removeNode(request));
  }

  @Override
  public void plan(PlanRequest request, StreamObserver<PlanResponse> observer) {
    // No change named: the moves the current map still needs and has not started.
    delegate(observer, commands -> commands.plan(request));
  }

  /** Answers from the membership commands' future, or UNIMPLEMENTED when there are none. */
  private <T> void delegate(
      StreamObserver<T> observer, Function<MembershipCommands, CompletableFuture<T>> call) {
    if (membership == null) {
      observer.onError(
          Status.UNIMPLEMENTED
              .withDescription("membership changes are not served by this node")
              .asRuntimeException());
      return;
    }
    CompletableFuture<T> future;
    try {
      future = call.apply(membership);
    } catch (RuntimeException e) {
      future = CompletableFuture.failedFuture(e);
    }
    future.whenComplete((response, error) -> {
      if (error == null) {
        observer.onNext(response);
        observer.onCompleted();
        return;
      }
      Throwable cause = error instanceof CompletionException ? error.getCause() : error;
      observer.onError(
          cause instanceof StatusRuntimeException statusError
              ? statusError
              : Status.INTERNAL.withDescription(cause.toString()).asRuntimeException());
    });
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
