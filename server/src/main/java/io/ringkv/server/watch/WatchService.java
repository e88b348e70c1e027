package io.ringkv.server.watch;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.micrometer.core.instrument.MeterRegistry;
import io.ringkv.proto.v1.ErrorDetail;
import io.ringkv.proto.v1.ProgressReply;
import io.ringkv.proto.v1.ProgressRequest;
import io.ringkv.proto.v1.WatchGrpc;
import io.ringkv.proto.v1.WatchRequest;
import io.ringkv.proto.v1.WatchResponse;
import io.ringkv.routing.PartitionLayout;
import io.ringkv.server.KvErrors;
import io.ringkv.server.config.Limits;
import io.ringkv.server.config.WatchLimits;
import io.ringkv.server.membership.ClusterMapView;
import io.ringkv.server.raft.MultiRaftDriver;
import io.ringkv.storage.ChangefeedLog;
import io.ringkv.storage.PartitionReadView;
import io.ringkv.storage.StorageEngine;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * The Watch service of one node: the changefeed as a server stream, served from this node's own
 * replicas (leader or follower) by reading their {@code changes} column family.
 *
 * <p>Design notes. A call is checked by {@link WatchPlan} (pure), then counted against watches-max
 * and registered with the {@link WatchHub}, which wakes it when one of its partitions applies; the
 * {@link WatchStream} does the rest on the hub's executor. The call's handler returns at once: no
 * thread waits for a stream. Partitions this node holds no replica of are refused with
 * FAILED_PRECONDITION naming the nodes that hold them (a client routes per partition with {@code
 * partitions}).
 */
public final class WatchService extends WatchGrpc.WatchImplBase implements AutoCloseable {
  /** Threads of the shared executor that serves every stream. */
  static final int THREADS_DEFAULT = Math.max(2, Runtime.getRuntime().availableProcessors());

  /**
   * How long one ReadIndex of a linearizable start may stay unanswered before it is asked again.
   */
  static final long READ_INDEX_ATTEMPT_MILLIS = 500;

  private final PartitionLayout layout;
  private final Limits limits;
  private final ClusterMapView mapView;
  private final WatchHub hub;

  /**
   * @param mapView the cluster map (where partitions this node does not hold live, for the refusal)
   */
  public WatchService(
      PartitionLayout layout,
      Limits limits,
      WatchLimits watchLimits,
      MultiRaftDriver driver,
      StorageEngine engine,
      ClusterMapView mapView,
      MeterRegistry registry,
      LongSupplier nanoTime) {
    this.layout = layout;
    this.limits = limits;
    this.mapView = mapView;
    this.hub =
        new WatchHub(
            watchLimits,
            limits.responseSizeBytesMax() - Limits.RESPONSE_OVERHEAD_BYTES,
            layout.partitionCount(),
            localReplicas(driver, engine),
            registry,
            nanoTime,
            THREADS_DEFAULT);
    driver.setAppliedListener(hub);
    driver.setReplicaDestroyedListener(hub::replicaGone);
  }

  private static LocalReplicas localReplicas(MultiRaftDriver driver, StorageEngine engine) {
    return new LocalReplicas() {
      @Override
      public boolean hosts(int partition) {
        return driver.hosts(partition);
      }

      @Override
      public long appliedIndex(int partition) {
        return driver.appliedIndex(partition);
      }

      @Override
      public ChangefeedLog changefeed(int partition) {
        return engine.changefeed(partition);
      }

      @Override
      public PartitionReadView readView(int partition) {
        return driver.store(partition).readView();
      }

      @Override
      public CompletableFuture<?> awaitLeaderCommit(int partition) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        readIndexAttempt(partition, done);
        return done;
      }

      /**
       * A follower that knows no leader yet (just started, or an election is running) drops a
       * ReadIndex without an answer: ask again after a while, until the caller gives up.
       */
      private void readIndexAttempt(int partition, CompletableFuture<Void> done) {
        driver
            .readIndexOnAnyReplica(partition)
            .orTimeout(READ_INDEX_ATTEMPT_MILLIS, TimeUnit.MILLISECONDS)
            .whenComplete((term, failure) -> {
              if (failure == null) {
                done.complete(null);
              } else if (!done.isDone()) {
                readIndexAttempt(partition, done);
              }
            });
      }
    };
  }

  @Override
  public void watch(WatchRequest request, StreamObserver<WatchResponse> responseObserver) {
    ServerCallStreamObserver<WatchResponse> observer =
        (ServerCallStreamObserver<WatchResponse>) responseObserver;
    WatchPlan plan;
    try {
      plan = WatchPlan.of(request, layout, limits);
      checkHosted(plan);
    } catch (StatusRuntimeException e) {
      observer.onError(e);
      return;
    }
    WatchStream stream = new WatchStream(hub, observer, plan, hub.newId());
    if (!hub.register(stream)) {
      if (hub.isClosed()) {
        observer.onError(
            Status.UNAVAILABLE
                .withDescription("node stopping; watch elsewhere")
                .asRuntimeException());
        return;
      }
      int max = hub.limits.watchesMax();
      observer.onError(
          KvErrors.of(
              Status.Code.RESOURCE_EXHAUSTED,
              "watches-max (" + max + ") streams are open on this node",
              ErrorDetail.newBuilder()
                  .setReason(ErrorDetail.Reason.LIMIT_EXCEEDED)
                  .setLimitName("watches-max")
                  .setLimitValue(max)
                  .build()));
      return;
    }
    observer.setOnCancelHandler(stream::cancel);
    observer.setOnReadyHandler(stream::wake);
    stream.start(plan);
  }

  private void checkHosted(WatchPlan plan) {
    List<String> missing = new ArrayList<>();
    for (int partition : plan.partitions()) {
      if (!hub.replicas.hosts(partition)) {
        missing.add(partition + " (on nodes " + mapView.votersOf(partition) + ")");
      }
    }
    if (!missing.isEmpty()) {
      throw Status.FAILED_PRECONDITION
          .withDescription(
              "this node holds no replica of partitions "
                  + String.join(", ", missing)
                  + "; watch them on a node that does (list them in partitions)")
          .asRuntimeException();
    }
  }

  @Override
  public void requestProgress(
      ProgressRequest request, StreamObserver<ProgressReply> responseObserver) {
    WatchStream stream = hub.find(request.getWatchId());
    if (stream == null) {
      responseObserver.onError(
          Status.NOT_FOUND
              .withDescription("no watch " + request.getWatchId() + " on this node")
              .asRuntimeException());
      return;
    }
    stream.requestProgress();
    responseObserver.onNext(ProgressReply.getDefaultInstance());
    responseObserver.onCompleted();
  }

  /** Ends every stream (UNAVAILABLE) and stops the hub's threads. */
  @Override
  public void close() {
    hub.close();
  }
}
