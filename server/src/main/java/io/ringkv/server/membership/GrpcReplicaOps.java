package io.ringkv.server.membership;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.ringkv.proto.internal.ChangeReplicasRequest;
import io.ringkv.proto.internal.ChangeReplicasResponse;
import io.ringkv.proto.internal.ClusterMap;
import io.ringkv.proto.internal.ClusterMember;
import io.ringkv.proto.internal.CreateReplicaRequest;
import io.ringkv.proto.internal.CreateReplicaResponse;
import io.ringkv.proto.internal.DestroyReplicaRequest;
import io.ringkv.proto.internal.DestroyReplicaResponse;
import io.ringkv.proto.internal.GroupProgressRequest;
import io.ringkv.proto.internal.GroupProgressResponse;
import io.ringkv.proto.internal.ReplicaAdminGrpc;
import io.ringkv.proto.v1.ClusterGrpc;
import io.ringkv.proto.v1.ErrorDetail;
import io.ringkv.proto.v1.Member;
import io.ringkv.proto.v1.MembersRequest;
import io.ringkv.proto.v1.StatusRequest;
import io.ringkv.proto.v1.TransferLeaderRequest;
import io.ringkv.proto.v1.TransferLeaderResponse;
import io.ringkv.server.BoundChannels;
import io.ringkv.server.KvErrors;
import io.ringkv.server.config.HostPort;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.BiFunction;
import java.util.function.LongFunction;

/**
 * The rebalancer's replica operations over gRPC: ReplicaAdmin and Cluster calls to the nodes at the
 * client addresses of the newest map, one channel per node (rebuilt if the map moves the node),
 * each bound to this node's host so per-node firewall rules cut this traffic too. Every call has a
 * deadline. Calls meant for a group's leader start at the last leader seen, then the map's voters,
 * and follow NOT_LEADER hints (and GroupProgress's leader_node_id) a bounded number of hops.
 */
public final class GrpcReplicaOps implements Rebalancer.ReplicaOps, AutoCloseable {
  /** Deadline of a quick call (progress, create, destroy, describe, transfer). */
  public static final long CALL_DEADLINE_MILLIS_DEFAULT = 5_000;

  /**
   * Deadline of ChangeReplicas: it answers once the change is applied, which for a joint change
   * means two entries committed; a slow follower or a snapshot in flight can hold it a while.
   */
  public static final long CHANGE_DEADLINE_MILLIS_DEFAULT = 30_000;

  /** Redirects followed (NOT_LEADER hints) by one call before it gives up. */
  public static final int LEADER_HOPS_MAX = 3;

  /** Largest response a ReplicaAdmin or Cluster answer may be (a cluster map with many groups). */
  public static final int INBOUND_MESSAGE_BYTES_MAX = 64 * 1024 * 1024;

  private record NodeChannel(String address, ManagedChannel channel) {}

  private final ClusterMapView view;
  private final BoundChannels boundChannels;
  private final long callDeadlineMillis;
  private final long changeDeadlineMillis;
  private final Map<Long, NodeChannel> channels = new ConcurrentHashMap<>();
  private final Map<Integer, Long> leaders = new ConcurrentHashMap<>();

  /** Puts this node's credentials on each call once auth is on (none before). */
  private final io.grpc.ClientInterceptor credentials;

  /**
   * @param view the newest map: nodes' addresses and groups' voters
   * @param boundChannels how to open channels: from this node's host, over TLS when it runs TLS
   */
  public GrpcReplicaOps(
      ClusterMapView view,
      BoundChannels boundChannels,
      long callDeadlineMillis,
      long changeDeadlineMillis) {
    this(view, boundChannels, callDeadlineMillis, changeDeadlineMillis, NO_CREDENTIALS);
  }

  /**
   * @param credentials puts this node's credentials on every call (the nodes' token once auth is
   *     on)
   */
  public GrpcReplicaOps(
      ClusterMapView view,
      BoundChannels boundChannels,
      long callDeadlineMillis,
      long changeDeadlineMillis,
      io.grpc.ClientInterceptor credentials) {
    if (callDeadlineMillis < 1 || changeDeadlineMillis < callDeadlineMillis) {
      throw new IllegalArgumentException(
          "deadlines must be >= 1 ms with the change deadline >= the call deadline, got "
              + callDeadlineMillis
              + " and "
              + changeDeadlineMillis);
    }
    this.view = view;
    this.boundChannels = boundChannels;
    this.callDeadlineMillis = callDeadlineMillis;
    this.changeDeadlineMillis = changeDeadlineMillis;
    this.credentials = credentials;
  }

  public GrpcReplicaOps(ClusterMapView view, BoundChannels boundChannels) {
    this(view, boundChannels, NO_CREDENTIALS);
  }

  public GrpcReplicaOps(
      ClusterMapView view, BoundChannels boundChannels, io.grpc.ClientInterceptor credentials) {
    this(
        view,
        boundChannels,
        CALL_DEADLINE_MILLIS_DEFAULT,
        CHANGE_DEADLINE_MILLIS_DEFAULT,
        credentials);
  }

  private static final io.grpc.ClientInterceptor NO_CREDENTIALS =
      new io.grpc.ClientInterceptor() {
        @Override
        public <Q, R> io.grpc.ClientCall<Q, R> interceptCall(
            io.grpc.MethodDescriptor<Q, R> method,
            io.grpc.CallOptions options,
            io.grpc.Channel next) {
          return next.newCall(method, options);
        }
      };

  @Override
  public CompletableFuture<Rebalancer.NodeIdentity> describeNode(String clientAddress) {
    HostPort address;
    try {
      address = HostPort.parse(clientAddress, "", 0);
    } catch (IllegalArgumentException e) {
      return failed(Status.INVALID_ARGUMENT.withDescription(e.getMessage()));
    }
    if (address.host().isEmpty() || address.port() == 0) {
      return failed(
          Status.INVALID_ARGUMENT.withDescription(
              "'" + clientAddress + "' is not host:port of a node's client address"));
    }
    ManagedChannel channel = newChannel(address);
    ClusterGrpc.ClusterStub stub = ClusterGrpc.newStub(channel);
    CompletableFuture<io.ringkv.proto.v1.StatusResponse> status = new CompletableFuture<>();
    stub.withDeadlineAfter(callDeadlineMillis, TimeUnit.MILLISECONDS)
        .status(StatusRequest.getDefaultInstance(), into(status));
    CompletableFuture<Rebalancer.NodeIdentity> identity =
        status.thenCompose(answer -> {
          CompletableFuture<io.ringkv.proto.v1.MembersResponse> members = new CompletableFuture<>();
          stub.withDeadlineAfter(callDeadlineMillis, TimeUnit.MILLISECONDS)
              .members(MembersRequest.getDefaultInstance(), into(members));
          return members.thenApply(list -> {
            // Members lists the map's members; a node not yet in the map may only be in its
            // gossip view (Status.members), or in neither (the caller then asks the operator).
            String peerAddress = peerAddressOf(list.getMembersList(), answer.getNodeId());
            if (peerAddress.isEmpty()) {
              peerAddress = peerAddressOf(answer.getMembersList(), answer.getNodeId());
            }
            if (peerAddress.isEmpty()) {
              throw Status.FAILED_PRECONDITION
                  .withDescription(
                      "node "
                          + answer.getNodeId()
                          + " at "
                          + address
                          + " did not say its peer address")
                  .asRuntimeException();
            }
            return new Rebalancer.NodeIdentity(
                answer.getNodeId(), answer.getClusterId(), address.toString(), peerAddress);
          });
        });
    identity.whenComplete((value, error) -> channel.shutdown());
    return identity;
  }

  @Override
  public CompletableFuture<CreateReplicaResponse> createReplica(
      long node, int group, ClusterMap map) {
    CreateReplicaRequest request =
        CreateReplicaRequest.newBuilder()
            .setClusterId(map.getClusterId())
            .setGroup(group)
            .setMap(map)
            .build();
    return onNode(node, (stub, result) -> stub.createReplica(request, into(result)));
  }

  @Override
  public CompletableFuture<DestroyReplicaResponse> destroyReplica(
      long node, int group, long epoch) {
    DestroyReplicaRequest request =
        DestroyReplicaRequest.newBuilder()
            .setClusterId(view.current().getClusterId())
            .setGroup(group)
            .setMapEpoch(epoch)
            .build();
    return onNode(node, (stub, result) -> stub.destroyReplica(request, into(result)));
  }

  @Override
  public CompletableFuture<ChangeReplicasResponse> changeReplicas(
      int group, ChangeReplicasRequest request) {
    return onLeader(
        group,
        node -> {
          CompletableFuture<ChangeReplicasResponse> result = new CompletableFuture<>();
          replicaAdmin(node, changeDeadlineMillis).changeReplicas(request, into(result));
          return result;
        },
        (node, response) -> 0L);
  }

  @Override
  public CompletableFuture<GroupProgressResponse> groupProgress(int group) {
    GroupProgressRequest request =
        GroupProgressRequest.newBuilder()
            .setClusterId(view.current().getClusterId())
            .setGroup(group)
            .build();
    return onLeader(
        group,
        node -> {
          CompletableFuture<GroupProgressResponse> result = new CompletableFuture<>();
          replicaAdmin(node, callDeadlineMillis).groupProgress(request, into(result));
          return result;
        },
        // Only the leader's answer has members' progress. A follower names the leader it knows:
        // ask that node; a node without the group (hosted false) or without a known leader
        // sends the call on to the next candidate (-1).
        (node, response) -> {
          if (response.getProgressCount() > 0) {
            return 0L;
          }
          long leader = response.getLeaderNodeId();
          return leader != 0 && leader != node ? leader : -1L;
        });
  }

  @Override
  public CompletableFuture<TransferLeaderResponse> transferLeader(int group, long toNode) {
    TransferLeaderRequest request =
        TransferLeaderRequest.newBuilder().setPartition(group).setToNodeId(toNode).build();
    return onLeader(
        group,
        node -> {
          CompletableFuture<TransferLeaderResponse> result = new CompletableFuture<>();
          ClusterGrpc.newStub(channel(node))
              .withDeadlineAfter(callDeadlineMillis, TimeUnit.MILLISECONDS)
              .transferLeader(request, into(result));
          return result;
        },
        (node, response) -> 0L);
  }

  @Override
  public void close() {
    for (NodeChannel channel : channels.values()) {
      channel.channel().shutdownNow();
    }
    channels.clear();
  }

  /**
   * Runs {@code call} on the group's leader: the last leader seen, then the map's voters of the
   * group, jumping to a node named by a NOT_LEADER hint or by {@code redirect} (0: the answer is
   * final; -1: try the next candidate) at most {@link #LEADER_HOPS_MAX} times. Fails with the last
   * error when no candidate gives a final answer.
   */
  private <T> CompletableFuture<T> onLeader(
      int group, LongFunction<CompletableFuture<T>> call, BiFunction<Long, T, Long> redirect) {
    Deque<Long> queue = new ArrayDeque<>();
    Long last = leaders.get(group);
    if (last != null) {
      queue.add(last);
    }
    ClusterMap map = view.current();
    if (group < map.getGroupsCount()) {
      // Recorded voters (a leaving node may still lead), then the nodes moves bring in.
      queue.addAll(map.getGroups(group).getVotersList());
      queue.addAll(MovePlanner.effectiveVoters(map, group));
    }
    CompletableFuture<T> result = new CompletableFuture<>();
    attempt(group, queue, new HashSet<>(), 0, call, redirect, result, null);
    return result;
  }

  private <T> void attempt(
      int group,
      Deque<Long> queue,
      Set<Long> tried,
      int hops,
      LongFunction<CompletableFuture<T>> call,
      BiFunction<Long, T, Long> redirect,
      CompletableFuture<T> result,
      Throwable lastError) {
    Long node = queue.poll();
    while (node != null && !tried.add(node)) {
      node = queue.poll();
    }
    if (node == null) {
      result.completeExceptionally(
          lastError != null
              ? lastError
              : Status.UNAVAILABLE
                  .withDescription("no node answers for group " + group)
                  .asRuntimeException());
      return;
    }
    long asked = node;
    CompletableFuture<T> answer;
    try {
      answer = call.apply(asked);
    } catch (RuntimeException e) {
      answer = CompletableFuture.failedFuture(e);
    }
    answer.whenComplete((value, error) -> {
      long next = error == null ? redirect.apply(asked, value) : hintOf(error);
      if (error == null && next == 0) {
        leaders.put(group, asked);
        result.complete(value);
        return;
      }
      if (next > 0 && hops < LEADER_HOPS_MAX) {
        queue.addFirst(next);
      }
      Throwable cause =
          error != null
              ? error
              : Status.UNAVAILABLE
                  .withDescription("node " + asked + " does not lead group " + group)
                  .asRuntimeException();
      attempt(group, queue, tried, next > 0 ? hops + 1 : hops, call, redirect, result, cause);
    });
  }

  private static String peerAddressOf(List<Member> members, long nodeId) {
    for (Member member : members) {
      if (member.getNodeId() == nodeId) {
        return member.getPeerAddress();
      }
    }
    return "";
  }

  private static long hintOf(Throwable error) {
    ErrorDetail detail = KvErrors.detailOf(error);
    if (detail != null && detail.getReason() == ErrorDetail.Reason.NOT_LEADER) {
      return detail.getLeaderHint();
    }
    return 0;
  }

  /** Runs a ReplicaAdmin call on {@code node} itself (no leader routing). */
  private <T> CompletableFuture<T> onNode(
      long node, BiConsumer<ReplicaAdminGrpc.ReplicaAdminStub, CompletableFuture<T>> call) {
    CompletableFuture<T> result = new CompletableFuture<>();
    try {
      call.accept(replicaAdmin(node, callDeadlineMillis), result);
    } catch (StatusRuntimeException e) {
      result.completeExceptionally(e);
    }
    return result;
  }

  private ReplicaAdminGrpc.ReplicaAdminStub replicaAdmin(long node, long deadlineMillis) {
    return ReplicaAdminGrpc.newStub(channel(node))
        .withDeadlineAfter(deadlineMillis, TimeUnit.MILLISECONDS);
  }

  private ManagedChannel channel(long node) {
    String address =
        MovePlanner.member(view.current(), node).map(ClusterMember::getClientAddress).orElse("");
    if (address.isEmpty()) {
      throw Status.UNAVAILABLE
          .withDescription("node " + node + " has no client address in the map")
          .asRuntimeException();
    }
    NodeChannel current =
        channels.compute(
            node,
            (id, existing) -> {
              if (existing != null && existing.address().equals(address)) {
                return existing;
              }
              if (existing != null) {
                existing.channel().shutdown();
              }
              return new NodeChannel(address, newChannel(HostPort.parse(address, "", 0)));
            });
    return current.channel();
  }

  private ManagedChannel newChannel(HostPort remote) {
    return boundChannels
        .to(remote)
        .maxInboundMessageSize(INBOUND_MESSAGE_BYTES_MAX)
        .intercept(credentials)
        .build();
  }

  private static <T> StreamObserver<T> into(CompletableFuture<T> future) {
    return new StreamObserver<>() {
      @Override
      public void onNext(T value) {
        future.complete(value);
      }

      @Override
      public void onError(Throwable error) {
        future.completeExceptionally(error);
      }

      @Override
      public void onCompleted() {
        if (!future.isDone()) {
          future.completeExceptionally(
              Status.INTERNAL.withDescription("no answer in the response").asRuntimeException());
        }
      }
    };
  }

  private static <T> CompletableFuture<T> failed(Status status) {
    return CompletableFuture.failedFuture(status.asRuntimeException());
  }
}
