package io.ringkv.jepsen.harness.nemesis;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.ringkv.jepsen.harness.cluster.ClusterSpec;
import io.ringkv.jepsen.harness.cluster.LocalCluster;
import io.ringkv.proto.internal.ClusterMap;
import io.ringkv.proto.internal.GetClusterMapRequest;
import io.ringkv.proto.internal.ReplicaAdminGrpc;
import io.ringkv.proto.v1.AddNodeRequest;
import io.ringkv.proto.v1.AddNodeResponse;
import io.ringkv.proto.v1.ClusterGrpc;
import io.ringkv.proto.v1.PlanRequest;
import io.ringkv.proto.v1.PlanResponse;
import io.ringkv.proto.v1.RemoveNodeRequest;
import io.ringkv.proto.v1.RemoveNodeResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * {@link MembershipControl} over a {@link LocalCluster}: spares and retirement through its
 * processes, commands through the Cluster and ReplicaAdmin gRPC services of whichever live member
 * answers (any node forwards membership commands to the meta leader). A command moves on to the
 * next member only when the channel is UNAVAILABLE (the call never reached a node); any other error
 * is the command's answer, so a decommission is never sent twice by this class.
 */
public final class LocalMembershipControl implements MembershipControl, AutoCloseable {
  /** Deadline of one command; a join plans its moves before answering. */
  public static final Duration COMMAND_DEADLINE_DEFAULT = Duration.ofSeconds(10);

  private final LocalCluster cluster;
  private final Duration deadline;
  private final Map<Integer, ManagedChannel> channels = new HashMap<>();

  public LocalMembershipControl(LocalCluster cluster, Duration deadline) {
    this.cluster = cluster;
    this.deadline = deadline;
  }

  @Override
  public List<Integer> memberIds() {
    return cluster.memberIds();
  }

  @Override
  public List<Integer> unusedSpareIds() {
    return cluster.unusedSpareIds();
  }

  @Override
  public int replicationFactor() {
    return cluster.spec().replicationFactor();
  }

  @Override
  public void startSpare(int nodeId) throws Exception {
    cluster.startSpare(nodeId);
  }

  @Override
  public void retire(int nodeId) throws Exception {
    cluster.retire(nodeId);
    ManagedChannel channel;
    synchronized (this) {
      channel = channels.remove(nodeId);
    }
    if (channel != null) {
      channel.shutdownNow();
    }
  }

  @Override
  public AddNodeResponse addNode(int nodeId) {
    AddNodeRequest request =
        AddNodeRequest.newBuilder()
            .setClientAddress(cluster.address(nodeId) + ":" + ClusterSpec.CLIENT_PORT)
            .build();
    return onAnyMember(nodeId, channel -> cluster(channel).addNode(request));
  }

  @Override
  public RemoveNodeResponse decommission(int nodeId) {
    RemoveNodeRequest request =
        RemoveNodeRequest.newBuilder().setNodeId(nodeId).setDead(false).build();
    return onAnyMember(0, channel -> cluster(channel).removeNode(request));
  }

  @Override
  public ClusterMap clusterMap() {
    ClusterMap newest = null;
    GetClusterMapRequest request =
        GetClusterMapRequest.newBuilder().setClusterId(cluster.spec().clusterId()).build();
    for (int id : cluster.memberIds()) {
      if (!cluster.isRunning(id) || cluster.isPaused(id)) {
        continue;
      }
      try {
        ClusterMap map =
            ReplicaAdminGrpc.newBlockingStub(channel(id))
                .withDeadlineAfter(deadline.toNanos(), TimeUnit.NANOSECONDS)
                .getClusterMap(request)
                .getMap();
        if (newest == null || map.getEpoch() > newest.getEpoch()) {
          newest = map;
        }
      } catch (StatusRuntimeException unavailable) {
        // another member answers
      }
    }
    return newest;
  }

  /** Sends through the first live member but {@code except} that the call reaches. */
  private <T> T onAnyMember(int except, Function<ManagedChannel, T> call) {
    StatusRuntimeException last = null;
    for (int id : cluster.memberIds()) {
      if (id == except || !cluster.isRunning(id) || cluster.isPaused(id)) {
        continue;
      }
      try {
        return call.apply(channel(id));
      } catch (StatusRuntimeException e) {
        if (e.getStatus().getCode() != Status.Code.UNAVAILABLE) {
          throw e;
        }
        last = e;
      }
    }
    if (last != null) {
      throw last;
    }
    throw new IllegalStateException("no live member to send a membership command to");
  }

  private ClusterGrpc.ClusterBlockingStub cluster(ManagedChannel channel) {
    return ClusterGrpc.newBlockingStub(channel)
        .withDeadlineAfter(deadline.toNanos(), TimeUnit.NANOSECONDS);
  }

  @Override
  public int unstartedMoves(long epoch) {
    for (int id : cluster.memberIds()) {
      if (!cluster.isRunning(id) || cluster.isPaused(id)) {
        continue;
      }
      try {
        PlanResponse plan =
            ClusterGrpc.newBlockingStub(channel(id))
                .withDeadlineAfter(deadline.toNanos(), TimeUnit.NANOSECONDS)
                .plan(PlanRequest.getDefaultInstance());
        if (plan.getMapEpoch() == epoch) {
          return plan.getMovesCount();
        }
      } catch (StatusRuntimeException e) {
        // ask the next live member
      }
    }
    return -1;
  }

  private synchronized ManagedChannel channel(int nodeId) {
    return channels.computeIfAbsent(
        nodeId,
        id ->
            NettyChannelBuilder.forAddress(cluster.address(id), ClusterSpec.CLIENT_PORT)
                .usePlaintext()
                .build());
  }

  @Override
  public synchronized void close() {
    channels.values().forEach(ManagedChannel::shutdownNow);
    channels.clear();
  }
}
