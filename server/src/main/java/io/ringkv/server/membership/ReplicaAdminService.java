package io.ringkv.server.membership;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.ringkv.proto.internal.ChangeReplicasRequest;
import io.ringkv.proto.internal.ChangeReplicasResponse;
import io.ringkv.proto.internal.ClusterMember;
import io.ringkv.proto.internal.CreateReplicaRequest;
import io.ringkv.proto.internal.CreateReplicaResponse;
import io.ringkv.proto.internal.DestroyReplicaRequest;
import io.ringkv.proto.internal.DestroyReplicaResponse;
import io.ringkv.proto.internal.GetClusterMapRequest;
import io.ringkv.proto.internal.GetClusterMapResponse;
import io.ringkv.proto.internal.GroupProgressRequest;
import io.ringkv.proto.internal.GroupProgressResponse;
import io.ringkv.proto.internal.PushClusterMapRequest;
import io.ringkv.proto.internal.PushClusterMapResponse;
import io.ringkv.proto.internal.ReplicaAdminGrpc;
import io.ringkv.proto.v1.ErrorDetail;
import io.ringkv.server.KvErrors;
import io.ringkv.server.raft.DriverException;
import io.ringkv.server.raft.MultiRaftDriver;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The replica operations the meta leader asks of this node (ReplicaAdmin), served on the client
 * port beside Cluster. Every call must carry this node's cluster id: a coordinator of another
 * cluster that reached this address by mistake changes nothing. Each operation is idempotent in the
 * driver, so a coordinator that retries after a crash or a lost answer does no harm.
 *
 * <p>Errors: another cluster FAILED_PRECONDITION; a group outside 0 .. partition count
 * INVALID_ARGUMENT; not the leader UNAVAILABLE with a NOT_LEADER detail (hint, its address, map
 * epoch); a destroy refused because the replica's configuration still lists this node, or a change
 * asked during a joint configuration, FAILED_PRECONDITION; driver queue full RESOURCE_EXHAUSTED;
 * leadership lost while waiting UNAVAILABLE (ask again).
 */
public final class ReplicaAdminService extends ReplicaAdminGrpc.ReplicaAdminImplBase {
  private static final Logger log = LoggerFactory.getLogger(ReplicaAdminService.class);

  private final String clusterId;
  private final long nodeId;
  private final ClusterMapView mapView;
  private final MultiRaftDriver driver;

  public ReplicaAdminService(
      String clusterId, long nodeId, ClusterMapView mapView, MultiRaftDriver driver) {
    this.clusterId = clusterId;
    this.nodeId = nodeId;
    this.mapView = mapView;
    this.driver = driver;
  }

  @Override
  public void createReplica(
      CreateReplicaRequest request, StreamObserver<CreateReplicaResponse> response) {
    if (refused(request.getClusterId(), request.getGroup(), response)) {
      return;
    }
    if (request.hasMap()) {
      if (!request.getMap().getClusterId().equals(clusterId)) {
        response.onError(otherCluster(request.getMap().getClusterId()));
        return;
      }
      mapView.adopt(request.getMap()); // the new replica's peers are in it
    }
    answer(
        driver.createReplica(request.getGroup()),
        created -> CreateReplicaResponse.newBuilder().setCreated(created).build(),
        request.getGroup(),
        response);
  }

  @Override
  public void destroyReplica(
      DestroyReplicaRequest request, StreamObserver<DestroyReplicaResponse> response) {
    if (refused(request.getClusterId(), request.getGroup(), response)) {
      return;
    }
    log.info(
        "group {}: destroying the local replica (asked in map epoch {}, ours {})",
        request.getGroup(),
        request.getMapEpoch(),
        mapView.epoch());
    answer(
        driver.destroyReplica(request.getGroup()),
        destroyed -> DestroyReplicaResponse.newBuilder().setDestroyed(destroyed).build(),
        request.getGroup(),
        response);
  }

  @Override
  public void changeReplicas(
      ChangeReplicasRequest request, StreamObserver<ChangeReplicasResponse> response) {
    if (refused(request.getClusterId(), request.getGroup(), response)) {
      return;
    }
    answer(
        driver.changeReplicas(request.getGroup(), request),
        Function.identity(),
        request.getGroup(),
        response);
  }

  @Override
  public void groupProgress(
      GroupProgressRequest request, StreamObserver<GroupProgressResponse> response) {
    if (refused(request.getClusterId(), request.getGroup(), response)) {
      return;
    }
    answer(
        driver.groupProgress(request.getGroup()),
        Function.identity(),
        request.getGroup(),
        response);
  }

  @Override
  public void getClusterMap(
      GetClusterMapRequest request, StreamObserver<GetClusterMapResponse> response) {
    if (!request.getClusterId().equals(clusterId)) {
      response.onError(otherCluster(request.getClusterId()));
      return;
    }
    response.onNext(GetClusterMapResponse.newBuilder().setMap(mapView.current()).build());
    response.onCompleted();
  }

  @Override
  public void pushClusterMap(
      PushClusterMapRequest request, StreamObserver<PushClusterMapResponse> response) {
    if (!request.getClusterId().equals(clusterId)
        || !request.getMap().getClusterId().equals(clusterId)) {
      response.onError(otherCluster(request.getMap().getClusterId()));
      return;
    }
    if (mapView.adopt(request.getMap())) {
      log.info("adopted cluster map epoch {} (pushed)", request.getMap().getEpoch());
    }
    response.onNext(PushClusterMapResponse.newBuilder().setMapEpoch(mapView.epoch()).build());
    response.onCompleted();
  }

  /** Refuses (and answers) a call of another cluster or about a group that does not exist. */
  private boolean refused(String callerClusterId, int group, StreamObserver<?> response) {
    if (!callerClusterId.equals(clusterId)) {
      response.onError(otherCluster(callerClusterId));
      return true;
    }
    int partitionCount = mapView.partitionCount();
    if (group < 0 || group > partitionCount) {
      response.onError(
          KvErrors.malformed(
              "group " + group + " does not exist (0 .. " + partitionCount + ", meta last)"));
      return true;
    }
    return false;
  }

  private StatusRuntimeException otherCluster(String callerClusterId) {
    return Status.FAILED_PRECONDITION
        .withDescription(
            "node " + nodeId + " is of cluster '" + clusterId + "', not '" + callerClusterId + "'")
        .asRuntimeException();
  }

  private <T, R> void answer(
      CompletableFuture<T> future,
      Function<T, R> toResponse,
      int group,
      StreamObserver<R> response) {
    future.whenComplete((value, failure) -> {
      if (failure == null) {
        response.onNext(toResponse.apply(value));
        response.onCompleted();
      } else {
        response.onError(toStatus(unwrap(failure), group));
      }
    });
  }

  private static Throwable unwrap(Throwable failure) {
    return failure instanceof CompletionException && failure.getCause() != null
        ? failure.getCause()
        : failure;
  }

  /** A driver failure as the status the contract above gives it. */
  StatusRuntimeException toStatus(Throwable failure, int group) {
    if (failure instanceof DriverException e) {
      return switch (e.kind()) {
        case NOT_LEADER -> notLeader(group, e.leaderHint());
        case OVERLOADED ->
            Status.RESOURCE_EXHAUSTED.withDescription(e.getMessage()).asRuntimeException();
        case UNAVAILABLE, NOT_HOSTED ->
            Status.UNAVAILABLE.withDescription(e.getMessage()).asRuntimeException();
      };
    }
    if (failure instanceof IllegalArgumentException) {
      return KvErrors.malformed(failure.getMessage());
    }
    if (failure instanceof IllegalStateException) {
      return Status.FAILED_PRECONDITION.withDescription(failure.getMessage()).asRuntimeException();
    }
    log.warn("group {}: replica operation failed", group, failure);
    return Status.INTERNAL.withDescription(String.valueOf(failure)).asRuntimeException();
  }

  private StatusRuntimeException notLeader(int group, long leaderHint) {
    String address =
        leaderHint == 0
            ? ""
            : mapView.member(leaderHint).map(ClusterMember::getClientAddress).orElse("");
    return KvErrors.of(
        Status.Code.UNAVAILABLE,
        "node " + nodeId + " does not lead group " + group,
        ErrorDetail.newBuilder()
            .setReason(ErrorDetail.Reason.NOT_LEADER)
            .setPartition(group)
            .setLeaderHint(leaderHint)
            .setLeaderAddress(address)
            .setMapEpoch(mapView.epoch())
            .build());
  }
}
