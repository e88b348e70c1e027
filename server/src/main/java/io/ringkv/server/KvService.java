package io.ringkv.server;

import com.google.protobuf.ByteString;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.ringkv.proto.internal.Command;
import io.ringkv.proto.internal.CommandError;
import io.ringkv.proto.internal.CommandResult;
import io.ringkv.proto.v1.Compare;
import io.ringkv.proto.v1.DeleteRequest;
import io.ringkv.proto.v1.DeleteResponse;
import io.ringkv.proto.v1.ErrorDetail;
import io.ringkv.proto.v1.GetRequest;
import io.ringkv.proto.v1.GetResponse;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.proto.v1.KeyValue;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.proto.v1.PutResponse;
import io.ringkv.proto.v1.ReadConsistency;
import io.ringkv.proto.v1.RequestOp;
import io.ringkv.proto.v1.ResponseHeader;
import io.ringkv.proto.v1.ScanRequest;
import io.ringkv.proto.v1.ScanResponse;
import io.ringkv.proto.v1.TxnRequest;
import io.ringkv.proto.v1.TxnResponse;
import io.ringkv.proto.v1.WriteSession;
import io.ringkv.raft.Role;
import io.ringkv.routing.PartitionLayout;
import io.ringkv.server.config.Limits;
import io.ringkv.server.raft.DriverException;
import io.ringkv.server.raft.GroupStatus;
import io.ringkv.server.raft.MultiRaftDriver;
import io.ringkv.storage.PartitionStore;
import io.ringkv.storage.ScanRange;
import io.ringkv.storage.StoredValue;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.function.LongPredicate;

/**
 * The KV service of one node.
 *
 * <p>Design notes. Any node accepts any request: a request for a partition this node leads is
 * served here (writes proposed through the driver and answered once applied; linearizable reads by
 * ReadIndex, then from the local store); otherwise it is forwarded over gRPC to the leader this
 * node knows (its own replica's view, or the hint of an earlier NOT_LEADER answer), marked so that
 * the receiver never forwards it again. While a partition has no leader the call waits in short
 * pauses, bounded by the call's deadline (or {@link #CALL_TIMEOUT_MILLIS_DEFAULT} without one), and
 * then fails UNAVAILABLE with NO_QUORUM. A write whose outcome is unknown (leadership lost,
 * deadline, forwarding failed mid-call) fails UNAVAILABLE: clients retry it with the same session.
 * Get, Put, Delete and Txn run on the transport thread (see {@link #DIRECT_METHODS}): when this
 * node leads the partition they only hand work to the driver, and the driver's future answers the
 * call. Everything that may wait (routing, forwarding, scans) runs on the call executor.
 */
final class KvService extends KVGrpc.KVImplBase {
  static final long CALL_TIMEOUT_MILLIS_DEFAULT = 10_000;

  /** Answer this long before the client's deadline so it sees our status, not its own timeout. */
  static final long DEADLINE_MARGIN_MILLIS = 50;

  static final long RETRY_PAUSE_MILLIS = 10;
  static final int SCAN_PAGE_DEFAULT = 1000;

  private final long nodeId;
  private final PartitionLayout layout;
  private final Limits limits;
  private final MultiRaftDriver driver;
  private final PeerChannels peers;
  private final List<List<Long>> replicas;
  private final LongPredicate peerConnected;
  private final Map<Integer, Long> leaderHints = new ConcurrentHashMap<>();

  /** Runs the handlers of {@link #DIRECT_METHODS} on the transport thread, others as usual. */
  static final io.grpc.ServerCallExecutorSupplier DIRECT_EXECUTOR_SUPPLIER =
      new io.grpc.ServerCallExecutorSupplier() {
        @Override
        public <ReqT, RespT> Executor getExecutor(
            io.grpc.ServerCall<ReqT, RespT> call, io.grpc.Metadata headers) {
          return DIRECT_METHODS.contains(call.getMethodDescriptor().getFullMethodName())
              ? Runnable::run
              : null;
        }
      };

  /** Methods whose handlers never block, so they may run on the transport thread. */
  static final java.util.Set<String> DIRECT_METHODS =
      java.util.Set.of(
          KVGrpc.getGetMethod().getFullMethodName(),
          KVGrpc.getPutMethod().getFullMethodName(),
          KVGrpc.getDeleteMethod().getFullMethodName(),
          KVGrpc.getTxnMethod().getFullMethodName());

  /** Answers calls whose proposal completed, and runs the blocking routing path when needed. */
  private final java.util.concurrent.ExecutorService callExecutor =
      java.util.concurrent.Executors.newCachedThreadPool(
          Thread.ofPlatform().name("ringkv-kv-call-", 0).daemon().factory());

  /**
   * UNSAFE debug switch (setting debug-unsafe-stale-reads): linearizable reads are served by any
   * replica from its applied state, without ReadIndex, so a partitioned or lagging replica answers
   * stale data. Exists only so the Jepsen suite can show it catches such a bug.
   */
  private final boolean debugUnsafeStaleReads;

  KvService(
      long nodeId,
      PartitionLayout layout,
      Limits limits,
      MultiRaftDriver driver,
      PeerChannels peers,
      List<List<Long>> replicas,
      LongPredicate peerConnected) {
    this(nodeId, layout, limits, driver, peers, replicas, peerConnected, false);
  }

  KvService(
      long nodeId,
      PartitionLayout layout,
      Limits limits,
      MultiRaftDriver driver,
      PeerChannels peers,
      List<List<Long>> replicas,
      LongPredicate peerConnected,
      boolean debugUnsafeStaleReads) {
    this.debugUnsafeStaleReads = debugUnsafeStaleReads;
    this.nodeId = nodeId;
    this.layout = layout;
    this.limits = limits;
    this.driver = driver;
    this.peers = peers;
    this.replicas = replicas;
    this.peerConnected = peerConnected;
  }

  /** Stops the call executor (after the gRPC server stopped taking calls). */
  void shutdown() {
    callExecutor.shutdownNow();
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
      key = checkKey(request.getKey());
      partition = layout.partitionOfKey(key);
      linearizable = linearizable(request.getConsistency()) && !debugUnsafeStaleReads;
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
                    route(
                        partition,
                        linearizable,
                        deadline -> {
                          long term = readBarrier(partition, linearizable, deadline);
                          return getLocal(driver.store(partition), key)
                              .setHeader(header(partition, term))
                              .build();
                        },
                        stub -> stub.get(request),
                        true));
    GroupStatus status = driver.status(partition);
    if (status != null && !linearizable) {
      respond(
          observer,
          () ->
              getLocal(driver.store(partition), key)
                  .setHeader(header(partition, status.term()))
                  .build());
      return;
    }
    if (status == null || status.role() != Role.LEADER) {
      executor.execute(blocking);
      return;
    }
    long remaining = Math.max(0, deadlineNanos() - System.nanoTime());
    driver
        .readIndex(partition)
        .orTimeout(remaining, TimeUnit.NANOSECONDS)
        .whenComplete((term, error) -> {
          if (error == null) {
            respond(
                observer,
                () ->
                    getLocal(driver.store(partition), key)
                        .setHeader(header(partition, term))
                        .build());
          } else {
            failFast(observer, error, partition, executor, blocking, "read");
          }
        });
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
      observer.onError(driverError(driverException));
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

  @Override
  public void put(PutRequest request, StreamObserver<PutResponse> observer) {
    respondWrite(
        observer,
        () -> {
          byte[] key = checkKey(request.getKey());
          checkValue(request.getValue());
          checkSession(request.getSession());
          int partition = layout.partitionOfKey(key);
          Command command =
              Command.newBuilder().setSession(request.getSession()).setPut(request).build();
          return new PreparedWrite<>(
              partition,
              command,
              stub -> stub.put(request),
              (result, header) -> result.getPut().toBuilder().setHeader(header).build());
        });
  }

  @Override
  public void delete(DeleteRequest request, StreamObserver<DeleteResponse> observer) {
    respondWrite(
        observer,
        () -> {
          byte[] key = checkKey(request.getKey());
          checkSession(request.getSession());
          int partition = layout.partitionOfKey(key);
          Command command =
              Command.newBuilder().setSession(request.getSession()).setDelete(request).build();
          return new PreparedWrite<>(
              partition,
              command,
              stub -> stub.delete(request),
              (result, header) -> result.getDelete().toBuilder().setHeader(header).build());
        });
  }

  @Override
  public void txn(TxnRequest request, StreamObserver<TxnResponse> observer) {
    respondWrite(
        observer,
        () -> {
          int partition = checkTxn(request);
          checkSession(request.getSession());
          Command command =
              Command.newBuilder().setSession(request.getSession()).setTxn(request).build();
          return new PreparedWrite<>(
              partition,
              command,
              stub -> stub.txn(request),
              (result, header) -> result.getTxn().toBuilder().setHeader(header).build());
        });
  }

  @Override
  public void scan(ScanRequest request, StreamObserver<ScanResponse> observer) {
    // Waits for every partition's answer (read barriers, forwards): never on the transport thread.
    Context.current()
        .fixedContextExecutor(callExecutor)
        .execute(() -> respond(observer, () -> scan(request)));
  }

  // ---------------------------------------------------------------- writes and reads

  private interface Local<T> {
    T serve(long deadlineNanos) throws Exception;
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
   * Serves a write. When this node leads the partition, the proposal's future answers the call (no
   * thread waits for it); otherwise, or when leadership moved meanwhile, the blocking routing path
   * takes over on the call executor.
   */
  private <T> void respondWrite(
      StreamObserver<T> observer, java.util.function.Supplier<PreparedWrite<T>> validation) {
    PreparedWrite<T> write;
    try {
      write = validation.get();
    } catch (StatusRuntimeException e) {
      observer.onError(e);
      return;
    }
    GroupStatus status = driver.status(write.partition());
    Executor executor = Context.current().fixedContextExecutor(callExecutor);
    Runnable blocking =
        () ->
            respond(
                observer,
                () -> write(write.partition(), write.command(), write.forward(), write.mapper()));
    if (status == null || status.role() != Role.LEADER) {
      executor.execute(blocking);
      return;
    }
    long remaining = Math.max(0, deadlineNanos() - System.nanoTime());
    driver
        .propose(write.partition(), write.command())
        .orTimeout(remaining, TimeUnit.NANOSECONDS)
        .whenComplete((outcome, error) -> {
          if (error != null) {
            failFast(observer, error, write.partition(), executor, blocking, "write");
            return;
          }
          respond(
              observer,
              () -> {
                CommandResult result = outcome.result();
                if (result.hasError()) {
                  throw commandError(result.getError(), write.partition());
                }
                return write.mapper().map(result, header(write.partition(), outcome.term()));
              });
        });
  }

  private <T> T write(
      int partition,
      Command command,
      Function<KVGrpc.KVBlockingStub, T> forward,
      ResultMapper<T> mapper) {
    return route(
        partition,
        true,
        deadline -> {
          var outcome = await(driver.propose(partition, command), deadline, partition);
          CommandResult result = outcome.result();
          if (result.hasError()) {
            throw commandError(result.getError(), partition);
          }
          return mapper.map(result, header(partition, outcome.term()));
        },
        forward,
        false);
  }

  /** Waits until a read of the local store is allowed; returns the term to report. */
  private long readBarrier(int partition, boolean linearizable, long deadline) throws Exception {
    if (linearizable) {
      return await(driver.readIndex(partition), deadline, partition);
    }
    GroupStatus status = driver.status(partition);
    return status == null ? 0 : status.term();
  }

  private GetResponse.Builder getLocal(PartitionStore store, byte[] key) {
    Optional<StoredValue> value = store.get(key);
    GetResponse.Builder response = GetResponse.newBuilder();
    value.ifPresent(stored ->
        response
            .setFound(true)
            .setValue(ByteString.copyFrom(stored.value()))
            .setCreateRevision(stored.createRevision())
            .setModRevision(stored.modRevision())
            .setVersion(stored.version()));
    return response;
  }

  private ScanResponse scan(ScanRequest request) {
    Integer onePartition = ForwardingHeaders.scanPartition();
    boolean forwardedPage = onePartition != null;
    int limit = request.getLimit() == 0 ? Math.min(SCAN_PAGE_DEFAULT, limits.scanLimitMax()) : 0;
    if (request.getLimit() != 0) {
      // A forwarded per-partition page asks for one more than the client's page.
      long allowed = (long) limits.scanLimitMax() + (forwardedPage ? 1 : 0);
      if (Integer.toUnsignedLong(request.getLimit()) > allowed) {
        throw KvErrors.limit(
            "scan-limit-max", limits.scanLimitMax(), Integer.toUnsignedLong(request.getLimit()));
      }
      limit = request.getLimit();
    }
    ScanRange range = scanRange(request);
    boolean linearizable = linearizable(request.getConsistency());
    if (forwardedPage) {
      int partition = onePartition;
      if (partition < 0 || partition >= layout.partitionCount()) {
        throw KvErrors.malformed("no partition " + partition);
      }
      return scanPartition(partition, range, limit, linearizable, request);
    }
    // Each partition returns up to limit + 1 pairs: a partition with more than `limit` in range
    // proves there is more, and the merged page is exact.
    int perPartition = limit + 1;
    ScanRequest page = request.toBuilder().setLimit(perPartition).build();
    // All partitions at once (each may wait for a read barrier or a forward to its leader).
    Executor executor = Context.current().fixedContextExecutor(callExecutor);
    List<CompletableFuture<ScanResponse>> parts = new ArrayList<>(layout.partitionCount());
    for (int partition = 0; partition < layout.partitionCount(); partition++) {
      int each = partition;
      parts.add(
          CompletableFuture.supplyAsync(
              () -> scanPartition(each, range, perPartition, linearizable, page), executor));
    }
    List<KeyValue> merged = new ArrayList<>();
    for (CompletableFuture<ScanResponse> part : parts) {
      try {
        merged.addAll(part.join().getKvsList());
      } catch (CompletionException e) {
        parts.forEach(other -> other.cancel(false));
        if (e.getCause() instanceof StatusRuntimeException status) {
          throw status;
        }
        throw Status.INTERNAL.withDescription(String.valueOf(e.getCause())).asRuntimeException();
      }
    }
    merged.sort((a, b) -> compareBytes(a.getKey(), b.getKey()));
    ScanResponse.Builder response = ScanResponse.newBuilder();
    boolean more = merged.size() > limit;
    List<KeyValue> kvs = more ? merged.subList(0, limit) : merged;
    response.addAllKvs(kvs).setMore(more);
    if (more) {
      response.setNextKey(kvs.getLast().getKey().concat(ByteString.copyFrom(new byte[] {0})));
    }
    response.setHeader(
        ResponseHeader.newBuilder().setNodeId(nodeId).setMapEpoch(KvErrors.MAP_EPOCH));
    return response.build();
  }

  private ScanResponse scanPartition(
      int partition, ScanRange range, int limit, boolean linearizable, ScanRequest page) {
    return route(
        partition,
        linearizable,
        deadline -> {
          long term = readBarrier(partition, linearizable, deadline);
          ScanResponse.Builder response =
              ScanResponse.newBuilder().setHeader(header(partition, term));
          for (io.ringkv.storage.KeyValue pair : driver.store(partition).scan(range, limit)) {
            KeyValue.Builder kv =
                KeyValue.newBuilder()
                    .setKey(ByteString.copyFrom(pair.key()))
                    .setCreateRevision(pair.value().createRevision())
                    .setModRevision(pair.value().modRevision())
                    .setVersion(pair.value().version());
            if (!page.getKeysOnly()) {
              kv.setValue(ByteString.copyFrom(pair.value().value()));
            }
            response.addKvs(kv);
          }
          return response.build();
        },
        stub -> stub.scan(page),
        true,
        partition);
  }

  // ---------------------------------------------------------------- routing

  private <T> T route(
      int partition,
      boolean needsLeader,
      Local<T> local,
      Function<KVGrpc.KVBlockingStub, T> forward,
      boolean retryForwardFailure) {
    return route(partition, needsLeader, local, forward, retryForwardFailure, null);
  }

  private <T> T route(
      int partition,
      boolean needsLeader,
      Local<T> local,
      Function<KVGrpc.KVBlockingStub, T> forward,
      boolean retryForwardFailure,
      Integer scanPartition) {
    long deadline = deadlineNanos();
    int attempt = 0;
    while (true) {
      long remaining = deadline - System.nanoTime();
      if (remaining <= 0) {
        throw KvErrors.noQuorum(
            partition, "partition " + partition + " had no reachable leader within the deadline");
      }
      GroupStatus status = driver.status(partition);
      long leader;
      if (status != null) {
        if (!needsLeader || status.role() == Role.LEADER) {
          try {
            return local.serve(deadline);
          } catch (DriverException e) {
            if (e.kind() != DriverException.Kind.NOT_LEADER) {
              throw driverError(e);
            }
            pause();
            continue;
          } catch (StatusRuntimeException e) {
            throw e;
          } catch (Exception e) {
            throw Status.INTERNAL.withDescription(e.toString()).asRuntimeException();
          }
        }
        leader = status.leaderId();
      } else {
        List<Long> voters = replicas.get(partition);
        leader = leaderHints.getOrDefault(partition, voters.get(attempt % voters.size()));
      }
      attempt++;
      if (ForwardingHeaders.isForwarded()) {
        throw KvErrors.notLeader(partition, leader, leader == 0 ? "" : peers.clientAddress(leader));
      }
      if (leader == 0 || leader == nodeId || !peerConnected.test(leader)) {
        pause();
        continue;
      }
      try {
        return forward.apply(
            peers.kv(leader, scanPartition).withDeadlineAfter(remaining, TimeUnit.NANOSECONDS));
      } catch (StatusRuntimeException e) {
        ErrorDetail detail = KvErrors.detailOf(e);
        if (detail != null && detail.getReason() == ErrorDetail.Reason.NOT_LEADER) {
          if (detail.getLeaderHint() != 0 && detail.getLeaderHint() != leader) {
            leaderHints.put(partition, detail.getLeaderHint());
          } else {
            leaderHints.remove(partition);
          }
          pause();
          continue;
        }
        if (retryForwardFailure
            && e.getStatus().getCode() == Status.Code.UNAVAILABLE
            && detail == null) {
          pause();
          continue;
        }
        throw e;
      }
    }
  }

  private <V> V await(CompletableFuture<V> future, long deadlineNanos, int partition)
      throws Exception {
    try {
      return future.get(Math.max(0, deadlineNanos - System.nanoTime()), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      future.cancel(false);
      throw Status.UNAVAILABLE
          .withDescription(
              "partition " + partition + ": not applied within the deadline (outcome unknown)")
          .asRuntimeException();
    } catch (ExecutionException e) {
      if (e.getCause() instanceof DriverException driverException) {
        throw driverException;
      }
      throw Status.INTERNAL.withDescription(e.getCause().toString()).asRuntimeException();
    }
  }

  private StatusRuntimeException driverError(DriverException e) {
    return switch (e.kind()) {
      case OVERLOADED ->
          KvErrors.overloaded(
              e.partition(),
              "inflight-proposals-per-partition-max",
              limits.inflightProposalsPerPartitionMax());
      case NOT_LEADER ->
          KvErrors.notLeader(e.partition(), e.leaderHint(), peers.clientAddress(e.leaderHint()));
      case UNAVAILABLE, NOT_HOSTED ->
          Status.UNAVAILABLE.withDescription(e.getMessage()).asRuntimeException();
    };
  }

  private static StatusRuntimeException commandError(CommandError error, int partition) {
    return KvErrors.of(
        Status.fromCodeValue(error.getGrpcCode()).getCode(),
        error.getMessage(),
        ErrorDetail.newBuilder()
            .setReason(ErrorDetail.Reason.forNumber(error.getReason()))
            .setPartition(partition)
            .build());
  }

  private static long deadlineNanos() {
    long budget = TimeUnit.MILLISECONDS.toNanos(CALL_TIMEOUT_MILLIS_DEFAULT);
    Deadline deadline = Context.current().getDeadline();
    if (deadline != null) {
      budget =
          Math.min(
              budget,
              deadline.timeRemaining(TimeUnit.NANOSECONDS)
                  - TimeUnit.MILLISECONDS.toNanos(DEADLINE_MARGIN_MILLIS));
    }
    return System.nanoTime() + budget;
  }

  private static void pause() {
    try {
      Thread.sleep(RETRY_PAUSE_MILLIS); // back-off between routing attempts, bounded by deadline
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw Status.CANCELLED.withDescription("interrupted").asRuntimeException();
    }
  }

  private ResponseHeader header(int partition, long term) {
    return ResponseHeader.newBuilder()
        .setNodeId(nodeId)
        .setPartition(partition)
        .setMapEpoch(KvErrors.MAP_EPOCH)
        .setRaftTerm(term)
        .build();
  }

  private static <T> void respond(StreamObserver<T> observer, java.util.function.Supplier<T> work) {
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

  // ---------------------------------------------------------------- validation

  private static boolean linearizable(ReadConsistency consistency) {
    return switch (consistency) {
      case LINEARIZABLE -> true;
      case SERIALIZABLE -> false;
      default -> throw KvErrors.malformed("unknown read consistency");
    };
  }

  private byte[] checkKey(ByteString key) {
    if (key.isEmpty()) {
      throw KvErrors.malformed("key must not be empty");
    }
    if (key.size() > limits.keySizeBytesMax()) {
      throw KvErrors.limit("key-size-bytes-max", limits.keySizeBytesMax(), key.size());
    }
    return key.toByteArray();
  }

  private void checkValue(ByteString value) {
    if (value.size() > limits.valueSizeBytesMax()) {
      throw KvErrors.limit("value-size-bytes-max", limits.valueSizeBytesMax(), value.size());
    }
  }

  private static void checkSession(WriteSession session) {
    if (session.getSessionId() != 0 && session.getSequence() == 0) {
      throw KvErrors.malformed("a write session's sequence starts at 1");
    }
  }

  /** Validates a Txn and returns the one partition all its keys live in. */
  private int checkTxn(TxnRequest request) {
    long ops =
        (long) request.getCompareCount() + request.getSuccessCount() + request.getFailureCount();
    if (ops > limits.txnOpsMax()) {
      throw KvErrors.limit("txn-ops-max", limits.txnOpsMax(), ops);
    }
    List<byte[]> keys = new ArrayList<>();
    for (Compare compare : request.getCompareList()) {
      keys.add(checkKey(compare.getKey()));
      if (compare.getTarget() == Compare.Target.UNRECOGNIZED
          || compare.getResult() == Compare.Result.UNRECOGNIZED) {
        throw KvErrors.malformed("unknown compare target or result");
      }
      if (compare.getTarget() == Compare.Target.VALUE) {
        checkValue(compare.getValue());
      }
    }
    for (List<RequestOp> branch : List.of(request.getSuccessList(), request.getFailureList())) {
      for (RequestOp op : branch) {
        switch (op.getOpCase()) {
          case GET -> keys.add(checkKey(op.getGet().getKey()));
          case PUT -> {
            keys.add(checkKey(op.getPut().getKey()));
            checkValue(op.getPut().getValue());
          }
          case DELETE -> keys.add(checkKey(op.getDelete().getKey()));
          case OP_NOT_SET -> throw KvErrors.malformed("txn op without an operation");
        }
      }
    }
    if (keys.isEmpty()) {
      throw KvErrors.malformed("txn names no key");
    }
    int partition = layout.partitionOfKey(keys.getFirst());
    for (byte[] key : keys) {
      if (layout.partitionOfKey(key) != partition) {
        throw KvErrors.malformed(
            "txn keys live in more than one partition; use a {hash tag} to co-locate them");
      }
    }
    return partition;
  }

  private static ScanRange scanRange(ScanRequest request) {
    if (!request.getPrefix().isEmpty()) {
      if (!request.getStartKey().isEmpty() || !request.getEndKey().isEmpty()) {
        throw KvErrors.malformed("give either prefix or start_key/end_key, not both");
      }
      return ScanRange.prefix(request.getPrefix().toByteArray());
    }
    byte[] start = request.getStartKey().toByteArray();
    if (request.getEndKey().isEmpty()) {
      return ScanRange.between(start, null);
    }
    byte[] end = request.getEndKey().toByteArray();
    if (Arrays.compareUnsigned(start, end) >= 0) {
      throw KvErrors.malformed("start_key must be below end_key");
    }
    return ScanRange.between(start, end);
  }

  private static int compareBytes(ByteString a, ByteString b) {
    return ByteString.unsignedLexicographicalComparator().compare(a, b);
  }
}
