package io.ringkv.server;

import com.google.protobuf.ByteString;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.ringkv.proto.internal.Command;
import io.ringkv.proto.internal.CommandResult;
import io.ringkv.proto.v1.DeleteRequest;
import io.ringkv.proto.v1.DeleteResponse;
import io.ringkv.proto.v1.GetRequest;
import io.ringkv.proto.v1.GetResponse;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.proto.v1.PutResponse;
import io.ringkv.proto.v1.ResponseHeader;
import io.ringkv.proto.v1.ScanRequest;
import io.ringkv.proto.v1.ScanResponse;
import io.ringkv.proto.v1.TxnRequest;
import io.ringkv.proto.v1.TxnResponse;
import io.ringkv.proto.v1.WriteSession;
import io.ringkv.raft.Role;
import io.ringkv.routing.PartitionLayout;
import io.ringkv.server.config.Limits;
import io.ringkv.server.membership.ClusterMapView;
import io.ringkv.server.raft.DriverException;
import io.ringkv.server.raft.GroupStatus;
import io.ringkv.server.raft.MultiRaftDriver;
import io.ringkv.storage.PartitionStore;
import io.ringkv.storage.StoredValue;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.function.LongPredicate;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The KV service of one node.
 *
 * <p>Design notes. Any node accepts any request. Each request is first checked by {@link
 * RequestValidation} (pure); a request for a partition this node leads is served here (writes
 * proposed through the driver and answered once applied; linearizable reads by ReadIndex, then from
 * the local store); otherwise {@link LeaderRouter} forwards it to the leader, and {@link
 * ScanFanOut} serves scans across partitions. Put, Delete and Txn share one path, {@link
 * #proposeWrite}. A write whose outcome is unknown (leadership lost, deadline, forwarding failed
 * mid-call) fails UNAVAILABLE: clients retry it with the same session. Get, Put, Delete and Txn run
 * on the transport thread (see {@link #DIRECT_METHODS}): when this node leads the partition they
 * only hand work to the driver, and the driver's future answers the call. Everything that may wait
 * (routing, forwarding, scans) runs on the call executor.
 */
final class KvService extends KVGrpc.KVImplBase {
  static final long CALL_TIMEOUT_MILLIS_DEFAULT = LeaderRouter.CALL_TIMEOUT_MILLIS_DEFAULT;
  static final long DEADLINE_MARGIN_MILLIS = LeaderRouter.DEADLINE_MARGIN_MILLIS;

  /**
   * The executors of a server built with {@code directExecutor()}: the handlers of {@link
   * #DIRECT_METHODS} run on the transport thread, every other call on {@code blocking}.
   *
   * <p>Why the server's own executor must be direct: gRPC looks up a call's method on the server's
   * executor before it asks this supplier, so with the default executor every call, the direct ones
   * too, first went to a pool thread and back: one more thread hand-off per request.
   */
  static io.grpc.ServerCallExecutorSupplier callExecutors(Executor blocking) {
    return new io.grpc.ServerCallExecutorSupplier() {
      @Override
      public <ReqT, RespT> Executor getExecutor(
          io.grpc.ServerCall<ReqT, RespT> call, io.grpc.Metadata headers) {
        return DIRECT_METHODS.contains(call.getMethodDescriptor().getFullMethodName())
            ? Runnable::run
            : blocking;
      }
    };
  }

  /** Methods whose handlers never block, so they may run on the transport thread. */
  static final java.util.Set<String> DIRECT_METHODS =
      java.util.Set.of(
          KVGrpc.getGetMethod().getFullMethodName(),
          KVGrpc.getPutMethod().getFullMethodName(),
          KVGrpc.getDeleteMethod().getFullMethodName(),
          KVGrpc.getTxnMethod().getFullMethodName());

  private final MultiRaftDriver driver;
  private final RequestValidation validation;
  private final LeaderRouter router;
  private final ScanFanOut scans;
  private final DiskQuota diskQuota;

  /** Answers calls whose proposal completed, and runs the blocking routing path when needed. */
  private final ExecutorService callExecutor =
      Executors.newCachedThreadPool(
          Thread.ofPlatform().name("ringkv-kv-call-", 0).daemon().factory());

  /** Deadlines of the calls answered without a thread of their own. */
  private final CallDeadlines deadlines = new CallDeadlines("ringkv-kv-deadlines");

  /**
   * UNSAFE debug switch (setting debug-unsafe-stale-reads): linearizable reads are served by any
   * replica from its applied state, without ReadIndex, so a partitioned or lagging replica answers
   * stale data. Exists only so the Jepsen suite can show it catches such a bug.
   */
  private final boolean debugUnsafeStaleReads;

  /** session-expiry-millis, stamped on every command so replicas expire sessions alike. */
  private final long sessionExpiryMillis;

  /**
   * @param sessionExpiryMillis see {@link io.ringkv.server.config.Setting#SESSION_EXPIRY_MILLIS}
   * @param nanoClock the monotonic clock of call deadlines (System::nanoTime in a node)
   * @param registry where the scan fan-out counts its forwarded calls
   * @param diskQuota refuses Puts (and Txns with one) while the node is over its disk quota
   */
  KvService(
      long nodeId,
      PartitionLayout layout,
      Limits limits,
      MultiRaftDriver driver,
      PeerChannels peers,
      ClusterMapView mapView,
      LongPredicate peerConnected,
      boolean debugUnsafeStaleReads,
      long sessionExpiryMillis,
      LongSupplier nanoClock,
      io.micrometer.core.instrument.MeterRegistry registry,
      DiskQuota diskQuota) {
    this.diskQuota = diskQuota;
    this.debugUnsafeStaleReads = debugUnsafeStaleReads;
    this.sessionExpiryMillis = sessionExpiryMillis;
    this.driver = driver;
    this.validation = new RequestValidation(limits, layout);
    this.router =
        new LeaderRouter(nodeId, limits, driver, peers, mapView, peerConnected, nanoClock);
    this.scans = new ScanFanOut(nodeId, validation, driver, router, peers, callExecutor, registry);
  }

  /** The internal service through which other nodes ask this one for its share of their scans. */
  NodeScanService nodeScanService() {
    return new NodeScanService(scans);
  }

  /** The backup export service, served beside KV. */
  BackupService backupService(
      String clusterId, long nodeId, io.micrometer.core.instrument.MeterRegistry registry) {
    return new BackupService(
        clusterId, nodeId, validation.layout().partitionCount(), driver, router, registry);
  }

  /** Stops the call executor (after the gRPC server stopped taking calls). */
  void shutdown() {
    callExecutor.shutdownNow();
    deadlines.close();
  }

  // ---------------------------------------------------------------- RPCs

  /**
   * Serves a Get. When this node leads the partition (linearizable) or holds a replica
   * (serializable), it is answered without any thread waiting: the ReadIndex future completes on
   * the driver's apply thread, which reads the local store and answers. Otherwise the blocking
   * routing path runs on the call executor.
   */
  @Override
  public void get(GetRequest request, StreamObserver<GetResponse> observer) {
    byte[] key;
    int partition;
    boolean linearizable;
    try {
      key = validation.checkKey(request.getKey());
      partition = validation.layout().partitionOfKey(key);
      linearizable =
          RequestValidation.linearizable(request.getConsistency()) && !debugUnsafeStaleReads;
    } catch (StatusRuntimeException e) {
      observer.onError(e);
      return;
    }
    Executor executor = Context.current().fixedContextExecutor(callExecutor);
    Runnable blocking =
        () ->
            respond(
                observer,
                () ->
                    router.route(
                        partition,
                        linearizable,
                        deadline -> {
                          long term = router.readBarrier(partition, linearizable, deadline);
                          return getLocal(partition, key, term);
                        },
                        stub -> stub.get(request),
                        true,
                        null));
    GroupStatus status = driver.status(partition);
    if (status != null && !linearizable) {
      respond(observer, () -> getLocal(partition, key, status.term()));
      return;
    }
    if (status == null || status.role() != Role.LEADER) {
      executor.execute(blocking);
      return;
    }
    deadlines
        .within(driver.readIndex(partition), router.remainingNanos(router.deadlineNanos()))
        .whenComplete((term, error) -> {
          if (error == null) {
            respond(observer, () -> getLocal(partition, key, term));
          } else {
            failFast(observer, error, partition, executor, blocking, "read");
          }
        });
  }

  @Override
  public void put(PutRequest request, StreamObserver<PutResponse> observer) {
    proposeWrite(
        observer,
        () -> {
          byte[] key = validation.checkKey(request.getKey());
          validation.checkValue(request.getValue());
          RequestValidation.checkSession(request.getSession());
          diskQuota.checkWrite();
          return new PreparedWrite<>(
              validation.layout().partitionOfKey(key),
              command(request.getSession()).setPut(request).build(),
              stub -> stub.put(request),
              (result, header) -> result.getPut().toBuilder().setHeader(header).build());
        });
  }

  @Override
  public void delete(DeleteRequest request, StreamObserver<DeleteResponse> observer) {
    proposeWrite(
        observer,
        () -> {
          byte[] key = validation.checkKey(request.getKey());
          RequestValidation.checkSession(request.getSession());
          diskQuota.noteDelete();
          return new PreparedWrite<>(
              validation.layout().partitionOfKey(key),
              command(request.getSession()).setDelete(request).build(),
              stub -> stub.delete(request),
              (result, header) -> result.getDelete().toBuilder().setHeader(header).build());
        });
  }

  @Override
  public void txn(TxnRequest request, StreamObserver<TxnResponse> observer) {
    proposeWrite(
        observer,
        () -> {
          int partition = validation.checkTxn(request);
          RequestValidation.checkSession(request.getSession());
          checkTxnAgainstQuota(request);
          return new PreparedWrite<>(
              partition,
              command(request.getSession()).setTxn(request).build(),
              stub -> stub.txn(request),
              (result, header) -> result.getTxn().toBuilder().setHeader(header).build());
        });
  }

  @Override
  public void scan(ScanRequest request, StreamObserver<ScanResponse> observer) {
    // Waits for every partition's answer (read barriers, forwards): never on the transport thread.
    Context.current()
        .fixedContextExecutor(callExecutor)
        .execute(() -> respond(observer, () -> scans.scan(request)));
  }

  // ---------------------------------------------------------------- writes

  /** A Txn that may put is refused over the disk quota; one that only reads or deletes is not. */
  private void checkTxnAgainstQuota(TxnRequest request) {
    boolean puts = false;
    boolean deletes = false;
    for (var ops : List.of(request.getSuccessList(), request.getFailureList())) {
      for (io.ringkv.proto.v1.RequestOp op : ops) {
        puts |= op.hasPut();
        deletes |= op.hasDelete();
      }
    }
    if (puts) {
      diskQuota.checkWrite();
    }
    if (deletes) {
      diskQuota.noteDelete();
    }
  }

  private interface ResultMapper<T> {
    T map(CommandResult result, ResponseHeader header);
  }

  /** A validated write, ready to propose or forward. */
  private record PreparedWrite<T>(
      int partition,
      Command command,
      Function<KVGrpc.KVBlockingStub, T> forward,
      ResultMapper<T> mapper) {}

  /**
   * Serves a Put, Delete or Txn. When this node leads the partition, the proposal's future answers
   * the call (no thread waits for it); otherwise, or when leadership moved meanwhile, the blocking
   * routing path takes over on the call executor.
   */
  private <T> void proposeWrite(StreamObserver<T> observer, Supplier<PreparedWrite<T>> validated) {
    PreparedWrite<T> write;
    try {
      write = validated.get();
    } catch (StatusRuntimeException e) {
      observer.onError(e);
      return;
    }
    int partition = write.partition();
    GroupStatus status = driver.status(partition);
    Executor executor = Context.current().fixedContextExecutor(callExecutor);
    Runnable blocking =
        () ->
            respond(
                observer,
                () ->
                    router.route(
                        partition,
                        true,
                        deadline -> {
                          var outcome =
                              router.await(
                                  driver.propose(partition, write.command()), deadline, partition);
                          return answer(write, outcome.result(), outcome.term());
                        },
                        write.forward(),
                        false,
                        null));
    if (status == null || status.role() != Role.LEADER) {
      executor.execute(blocking);
      return;
    }
    deadlines
        .within(
            driver.propose(partition, write.command()),
            router.remainingNanos(router.deadlineNanos()))
        .whenComplete((outcome, error) -> {
          if (error != null) {
            failFast(observer, error, partition, executor, blocking, "write");
          } else {
            respond(observer, () -> answer(write, outcome.result(), outcome.term()));
          }
        });
  }

  /**
   * A command of this node's leader-side settings: the limits every replica applies it under travel
   * in the command, so replicas decide alike even if their own settings differ.
   */
  private Command.Builder command(WriteSession session) {
    return Command.newBuilder()
        .setSession(session)
        .setResponseSizeBytesMax(validation.limits().responseSizeBytesMax())
        .setSessionExpiryMillis(sessionExpiryMillis);
  }

  private <T> T answer(PreparedWrite<T> write, CommandResult result, long term) {
    if (result.hasError()) {
      throw LeaderRouter.commandError(result.getError(), write.partition());
    }
    return write.mapper().map(result, router.header(write.partition(), term));
  }

  /**
   * Answers a failed fast-path future: NOT_LEADER (nothing was done) goes to the blocking routing
   * path, everything else becomes the call's status.
   */
  private void failFast(
      StreamObserver<?> observer,
      Throwable error,
      int partition,
      Executor executor,
      Runnable blocking,
      String what) {
    Throwable cause = error instanceof CompletionException ? error.getCause() : error;
    if (cause instanceof DriverException driverException
        && driverException.kind() == DriverException.Kind.NOT_LEADER) {
      executor.execute(blocking); // not proposed or read: safe to route again
    } else if (cause instanceof DriverException driverException) {
      observer.onError(router.driverError(driverException));
    } else if (cause instanceof TimeoutException) {
      observer.onError(
          Status.UNAVAILABLE
              .withDescription(
                  "partition "
                      + partition
                      + ": "
                      + what
                      + " not done within the deadline"
                      + (what.equals("write") ? " (outcome unknown)" : ""))
              .asRuntimeException());
    } else {
      observer.onError(Status.INTERNAL.withDescription(String.valueOf(cause)).asRuntimeException());
    }
  }

  // ---------------------------------------------------------------- reads

  private GetResponse getLocal(int partition, byte[] key, long term) {
    PartitionStore store = driver.store(partition);
    Optional<StoredValue> value = store.get(key);
    GetResponse.Builder response = GetResponse.newBuilder();
    value.ifPresent(stored ->
        response
            .setFound(true)
            .setValue(ByteString.copyFrom(stored.value()))
            .setCreateRevision(stored.createRevision())
            .setModRevision(stored.modRevision())
            .setVersion(stored.version()));
    return response.setHeader(router.header(partition, term)).build();
  }

  static <T> void respond(StreamObserver<T> observer, Supplier<T> work) {
    T response;
    try {
      response = work.get();
    } catch (StatusRuntimeException e) {
      observer.onError(e);
      return;
    } catch (RuntimeException e) {
      observer.onError(Status.INTERNAL.withDescription(e.toString()).asRuntimeException());
      return;
    }
    observer.onNext(response);
    observer.onCompleted();
  }
}
