package io.ringkv.client;

import com.google.protobuf.ByteString;
import io.grpc.ClientInterceptor;
import io.grpc.MethodDescriptor;
import io.ringkv.proto.v1.AddNodeRequest;
import io.ringkv.proto.v1.AddNodeResponse;
import io.ringkv.proto.v1.ClusterGrpc;
import io.ringkv.proto.v1.DeleteRequest;
import io.ringkv.proto.v1.DeleteResponse;
import io.ringkv.proto.v1.GetRequest;
import io.ringkv.proto.v1.GetResponse;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.proto.v1.MembersRequest;
import io.ringkv.proto.v1.MembersResponse;
import io.ringkv.proto.v1.PartitionsRequest;
import io.ringkv.proto.v1.PartitionsResponse;
import io.ringkv.proto.v1.PlanRequest;
import io.ringkv.proto.v1.PlanResponse;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.proto.v1.PutResponse;
import io.ringkv.proto.v1.RemoveNodeRequest;
import io.ringkv.proto.v1.RemoveNodeResponse;
import io.ringkv.proto.v1.RequestOp;
import io.ringkv.proto.v1.ResponseOp;
import io.ringkv.proto.v1.ScanRequest;
import io.ringkv.proto.v1.ScanResponse;
import io.ringkv.proto.v1.StatusRequest;
import io.ringkv.proto.v1.StatusResponse;
import io.ringkv.proto.v1.TransferLeaderRequest;
import io.ringkv.proto.v1.TransferLeaderResponse;
import io.ringkv.proto.v1.TxnRequest;
import io.ringkv.proto.v1.TxnResponse;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.LongSupplier;
import java.util.random.RandomGenerator;

/**
 * The ringkv Java client: asynchronous operations returning {@link CompletableFuture}, and a
 * blocking facade ({@link #blocking()}).
 *
 * <pre>{@code
 * try (RingKvClient client = RingKvClient.builder()
 *     .endpoints("127.0.0.11:7379", "127.0.0.12:7379", "127.0.0.13:7379")
 *     .build()) {
 *   client.put("greeting", "hello").join();
 *   Optional<Entry> entry = client.get("greeting").join();
 * }
 * }</pre>
 *
 * <p>Design notes. The client caches the partition map (ranges, replicas, leaders, epoch) and the
 * members' addresses, hashes each key with the server's own {@link io.ringkv.routing.KeyHasher},
 * and sends the request straight to the partition's leader; without a map, or when the leader does
 * not answer, any node will do, since every node forwards. A NOT_LEADER answer moves the request to
 * the named leader and, with a newer map epoch, refreshes the map (one refresh at a time). Failed
 * attempts retry with jittered exponential backoff until the call's deadline. Every write borrows a
 * session from a pool and keeps its (session, sequence) across retries, so the cluster applies it
 * at most once even when a response was lost. Failures surface as subclasses of {@link
 * RingKvException}; a missing key is an empty {@link Optional}, not an exception.
 *
 * <p>Thread-safe. {@link #close()} closes the channels and the client's own scheduler.
 */
public final class RingKvClient implements AutoCloseable {
  /** Largest key the client sends; the node may enforce a smaller one (key-size-bytes-max). */
  public static final int KEY_SIZE_BYTES_MAX = 64 * 1024;

  /** Deadline of a call, retries included, unless the builder or {@link #withDeadline} says. */
  public static final Duration DEFAULT_DEADLINE = Duration.ofSeconds(10);

  /** Longest single attempt, so that one stuck node cannot use up a whole deadline. */
  public static final Duration DEFAULT_ATTEMPT_TIMEOUT = Duration.ofSeconds(3);

  public static final Duration DEFAULT_BACKOFF_INITIAL = Duration.ofMillis(20);
  public static final Duration DEFAULT_BACKOFF_MAX = Duration.ofSeconds(1);
  public static final Duration DEFAULT_MAP_REFRESH_TIMEOUT = Duration.ofSeconds(2);

  /** Pairs per scan page; below the node's default scan-limit-max of 10 000. */
  public static final int DEFAULT_SCAN_PAGE_SIZE = 500;

  public static final int DEFAULT_IDLE_SESSIONS_MAX = 256;

  /** Largest response accepted; above the node's default request-size-bytes-max of 4 MiB. */
  public static final int DEFAULT_MESSAGE_SIZE_BYTES_MAX = 16 * 1024 * 1024;

  /** Smallest message size limit the builder accepts. */
  static final int MESSAGE_SIZE_BYTES_MIN = 1024;

  private final Core core;
  private final long deadlineNanos;

  /** What every view of one client shares. */
  private record Core(
      List<String> endpoints,
      ChannelPool channels,
      Transport transport,
      Router router,
      RetryingCaller caller,
      SessionPool sessions,
      LongSupplier nanoClock,
      ScheduledExecutorService scheduler,
      boolean ownsScheduler,
      int scanPageSize,
      Backoff backoff,
      ExecutorService watchDelivery,
      AtomicInteger watchCount) {}

  private RingKvClient(Core core, long deadlineNanos) {
    this.core = core;
    this.deadlineNanos = deadlineNanos;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** A view of this client whose calls use {@code deadline} instead of the default. */
  public RingKvClient withDeadline(Duration deadline) {
    return new RingKvClient(core, positiveNanos("deadline", deadline));
  }

  /** The blocking facade of this client (same connections, same deadline). */
  public BlockingRingKvClient blocking() {
    return new BlockingRingKvClient(this);
  }

  /** Cluster inspection and administration. */
  public ClusterAdmin cluster() {
    return new ClusterAdmin(this);
  }

  /** Users, roles and the auth switch. */
  public AuthAdmin auth() {
    return new AuthAdmin(this);
  }

  /** The endpoints given to the builder, normalised. */
  /**
   * This client's channel to the node at {@code address} (host:port), with the client's message
   * limit and interceptors, for calls it has no method of its own for (the backup export stream).
   * It is closed with the client.
   */
  public io.grpc.Channel channel(String address) {
    return core.channels().channel(address);
  }

  public List<String> endpoints() {
    return core.endpoints();
  }

  // ---- reads ----

  /** The entry at {@code key}, linearizably; empty when the key does not exist. */
  public CompletableFuture<Optional<Entry>> get(byte[] key) {
    return get(key, Consistency.LINEARIZABLE);
  }

  public CompletableFuture<Optional<Entry>> get(String key) {
    return get(utf8(key));
  }

  /** The entry at {@code key} read with the given consistency; empty when it does not exist. */
  public CompletableFuture<Optional<Entry>> get(byte[] key, Consistency consistency) {
    checkKey(key);
    GetRequest request =
        GetRequest.newBuilder()
            .setKey(ByteString.copyFrom(key))
            .setConsistency(consistency.toProto())
            .build();
    return call("get of " + describeKey(key), KVGrpc.getGetMethod(), request, key, false)
        .thenApply(response -> entryOf(request.getKey(), response));
  }

  // ---- writes ----

  /** Sets {@code key} to {@code value}. */
  public CompletableFuture<PutResult> put(byte[] key, byte[] value) {
    return put(key, value, false);
  }

  public CompletableFuture<PutResult> put(String key, String value) {
    return put(utf8(key), utf8(value));
  }

  /** Sets {@code key} to {@code value}, returning the previous entry when {@code prevKv}. */
  public CompletableFuture<PutResult> put(byte[] key, byte[] value, boolean prevKv) {
    checkKey(key);
    checkValue(value);
    PutRequest.Builder request =
        PutRequest.newBuilder()
            .setKey(ByteString.copyFrom(key))
            .setValue(ByteString.copyFrom(value))
            .setPrevKv(prevKv);
    return write(
        "put of " + describeKey(key),
        KVGrpc.getPutMethod(),
        session -> request.setSession(session).build(),
        key,
        (PutResponse response) ->
            new PutResult(
                response.getRevision(),
                response.getPrevFound()
                    ? Optional.of(Entry.of(response.getPrev()))
                    : Optional.empty()));
  }

  /** Deletes {@code key}; {@link DeleteResult#deleted()} says whether it existed. */
  public CompletableFuture<DeleteResult> delete(byte[] key) {
    checkKey(key);
    DeleteRequest.Builder request = DeleteRequest.newBuilder().setKey(ByteString.copyFrom(key));
    return write(
        "delete of " + describeKey(key),
        KVGrpc.getDeleteMethod(),
        session -> request.setSession(session).build(),
        key,
        (DeleteResponse response) ->
            new DeleteResult(
                response.getRevision(),
                response.getDeleted(),
                response.hasPrev() ? Optional.of(Entry.of(response.getPrev())) : Optional.empty()));
  }

  public CompletableFuture<DeleteResult> delete(String key) {
    return delete(utf8(key));
  }

  /**
   * Sets {@code key} to {@code newValue} if its value is {@code expected}, or if it does not exist
   * when {@code expected} is null. Completes with whether it was set.
   */
  public CompletableFuture<Boolean> compareAndSet(byte[] key, byte[] expected, byte[] newValue) {
    Txn txn = txn();
    txn = expected == null ? txn.ifAbsent(key) : txn.ifValueEquals(key, expected);
    return txn.thenPut(key, newValue).commit().thenApply(TxnResult::succeeded);
  }

  /** Sets {@code key} to {@code newValue} if its version is {@code expectedVersion} (0: absent). */
  public CompletableFuture<Boolean> compareVersionAndSet(
      byte[] key, long expectedVersion, byte[] newValue) {
    return txn()
        .ifVersionEquals(key, expectedVersion)
        .thenPut(key, newValue)
        .commit()
        .thenApply(TxnResult::succeeded);
  }

  /** A transaction to fill in and {@link Txn#commit()}. */
  public Txn txn() {
    Txn[] holder = new Txn[1];
    Function<TxnRequest.Builder, CompletableFuture<TxnResult>> committer =
        request ->
            write(
                "transaction on " + describeKey(holder[0].routingKey()),
                KVGrpc.getTxnMethod(),
                session -> request.setSession(session).build(),
                holder[0].routingKey(),
                response -> txnResultOf(request.build(), response));
    holder[0] = new Txn(committer);
    return holder[0];
  }

  // ---- scans ----

  /**
   * One page of {@code query}, starting at {@code startKey} (null: from the query's start). The
   * page's {@link ScanPage#nextKey()} continues it.
   */
  public CompletableFuture<ScanPage> scanPage(ScanQuery query, byte[] startKey) {
    ScanRequest.Builder request =
        ScanRequest.newBuilder()
            .setLimit(query.pageSize() == 0 ? core.scanPageSize() : query.pageSize())
            .setConsistency(query.consistency().toProto())
            .setKeysOnly(query.isKeysOnly());
    if (startKey == null && query.isPrefix()) {
      request.setPrefix(ByteString.copyFrom(query.prefixBytes()));
    } else {
      // A continued prefix scan becomes the equivalent range, which has an explicit start.
      byte[] start = startKey != null ? startKey : query.startKey();
      byte[] end = query.isPrefix() ? ScanQuery.prefixEnd(query.prefixBytes()) : query.endKey();
      request.setStartKey(ByteString.copyFrom(start)).setEndKey(ByteString.copyFrom(end));
    }
    return call("scan", KVGrpc.getScanMethod(), request.build(), null, false)
        .thenApply(RingKvClient::pageOf);
  }

  // ---- watch ----

  /**
   * The changefeed of {@code query}, as a publisher of items: each {@link WatchEvent} is a change,
   * each {@link WatchProgress} a report that the cursor moved without one. Every subscription is
   * its own watch. Flow control follows the subscriber's demand: the client asks the node for a
   * response only when the subscriber wants more, and holds at most {@link
   * WatchQuery#withResponsesBufferedMax} responses per watch, so a slow subscriber slows the stream
   * instead of filling memory. After any failure (node down, stream reset, node restart) the watch
   * resumes by itself on another node from the cursor of the last item handed over, with backoff,
   * for up to the query's resume timeout: the subscriber sees no gap and no repeat. It ends with
   * {@link WatchCompactedException} when a position is older than retention (unless the query asks
   * for {@link WatchQuery.OnCompacted#SNAPSHOT}), with another {@link RingKvException} when the
   * nodes refuse the query or stay unreachable, and never completes normally.
   *
   * <p>Items are handed over on a thread of the client's own (never a gRPC transport thread); a
   * subscriber may block in {@code onNext} for as long as it needs.
   */
  public Flow.Publisher<WatchItem> watch(WatchQuery query) {
    if (query == null) {
      throw new IllegalArgumentException("query must not be null");
    }
    return subscriber -> {
      if (subscriber == null) {
        throw new NullPointerException("subscriber must not be null (rule 1.9)");
      }
      newWatch(query, subscriber).start();
    };
  }

  WatchSubscription newWatch(WatchQuery query, Flow.Subscriber<? super WatchItem> subscriber) {
    return new WatchSubscription(
        query,
        subscriber,
        core.channels(),
        core.router(),
        core.endpoints(),
        core.backoff(),
        core.nanoClock(),
        core.scheduler(),
        core.watchDelivery(),
        core.watchCount().getAndIncrement());
  }

  // ---- plumbing ----

  <Req, Resp> CompletableFuture<Resp> call(
      String operation,
      MethodDescriptor<Req, Resp> method,
      Req request,
      byte[] routingKey,
      boolean write) {
    long deadline = core.nanoClock().getAsLong() + deadlineNanos;
    // Linearizable reads and writes are served by the partition leader; their headers say who.
    boolean servedByLeader =
        routingKey != null
            && (write
                || !(request instanceof GetRequest get)
                || get.getConsistency() == io.ringkv.proto.v1.ReadConsistency.LINEARIZABLE);
    return core.caller()
        .call(
            new RetryingCaller.Call<>(
                operation, method, request, routingKey, write, servedByLeader, deadline));
  }

  /** Passes {@code response} on after telling the router of the map epoch it carries. */
  <T> T learnEpoch(T response, long mapEpoch) {
    core.router().onEpoch(mapEpoch);
    return response;
  }

  /** One attempt to one address, for calls about that node itself (cluster status). */
  <Req, Resp> CompletableFuture<Resp> callNode(
      String address, MethodDescriptor<Req, Resp> method, Req request) {
    return core.transport().unary(address, method, request, deadlineNanos);
  }

  /**
   * Sends a write on a pooled session. If the server says the session expired and no attempt of
   * this write may have applied, the write goes once more on a fresh session (a write that may have
   * applied ends in {@link OutcomeUnknownException} instead, never in a second apply).
   */
  private <Req, Resp, R> CompletableFuture<R> write(
      String operation,
      MethodDescriptor<Req, Resp> method,
      Function<io.ringkv.proto.v1.WriteSession, Req> requestForSession,
      byte[] routingKey,
      Function<Resp, R> result) {
    return writeOnSession(operation, method, requestForSession, routingKey)
        .exceptionallyCompose(error -> {
          Throwable cause = error instanceof CompletionException ? error.getCause() : error;
          return cause instanceof SessionExpiredException
              ? writeOnSession(operation, method, requestForSession, routingKey)
              : CompletableFuture.failedFuture(cause);
        })
        .thenApply(result);
  }

  private <Req, Resp> CompletableFuture<Resp> writeOnSession(
      String operation,
      MethodDescriptor<Req, Resp> method,
      Function<io.ringkv.proto.v1.WriteSession, Req> requestForSession,
      byte[] routingKey) {
    SessionPool.Session session = core.sessions().acquire();
    CompletableFuture<Resp> response;
    try {
      response =
          call(operation, method, requestForSession.apply(session.nextWrite()), routingKey, true);
    } catch (RuntimeException e) {
      core.sessions().release(session);
      throw e;
    }
    return response.whenComplete((ignored, error) -> {
      Throwable cause = error instanceof CompletionException ? error.getCause() : error;
      if (cause instanceof SessionExpiredException) {
        core.sessions().discard(session);
      } else {
        core.sessions().release(session);
      }
    });
  }

  Router router() {
    return core.router();
  }

  SessionPool sessions() {
    return core.sessions();
  }

  private static Optional<Entry> entryOf(ByteString key, GetResponse response) {
    return response.getFound()
        ? Optional.of(
            Entry.of(
                key,
                response.getValue(),
                response.getCreateRevision(),
                response.getModRevision(),
                response.getVersion()))
        : Optional.empty();
  }

  private static TxnResult txnResultOf(TxnRequest request, TxnResponse response) {
    List<RequestOp> ran =
        response.getSucceeded() ? request.getSuccessList() : request.getFailureList();
    List<TxnResult.OpResult> results = new ArrayList<>();
    for (int i = 0; i < response.getResponsesCount(); i++) {
      ResponseOp op = response.getResponses(i);
      ByteString key = i < ran.size() ? ran.get(i).getGet().getKey() : ByteString.EMPTY;
      results.add(
          switch (op.getOpCase()) {
            case GET -> new TxnResult.GetResult(entryOf(key, op.getGet()));
            case PUT -> new TxnResult.PutOpResult(op.getPut().getRevision());
            case DELETE -> new TxnResult.DeleteOpResult(op.getDelete().getDeleted());
            case OP_NOT_SET -> throw new IllegalStateException("node sent an empty txn result");
          });
    }
    return new TxnResult(response.getSucceeded(), response.getRevision(), results);
  }

  private static ScanPage pageOf(ScanResponse response) {
    List<Entry> entries = new ArrayList<>(response.getKvsCount());
    response.getKvsList().forEach(kv -> entries.add(Entry.of(kv)));
    return new ScanPage(
        entries,
        response.getMore() ? Optional.of(response.getNextKey().toByteArray()) : Optional.empty());
  }

  static byte[] utf8(String text) {
    if (text == null) {
      throw new IllegalArgumentException("key and value must not be null");
    }
    return text.getBytes(StandardCharsets.UTF_8);
  }

  static void checkKey(byte[] key) {
    if (key == null || key.length == 0) {
      throw new IllegalArgumentException("key must not be null or empty");
    }
    if (key.length > KEY_SIZE_BYTES_MAX) {
      throw new IllegalArgumentException(
          "key of " + key.length + " bytes exceeds key-size-bytes-max " + KEY_SIZE_BYTES_MAX);
    }
  }

  static void checkValue(byte[] value) {
    if (value == null) {
      throw new IllegalArgumentException("value must not be null (use an empty array)");
    }
  }

  private static String describeKey(byte[] key) {
    String text = new String(key, 0, Math.min(key.length, 64), StandardCharsets.UTF_8);
    return "key '" + text + (key.length > 64 ? "...'" : "'");
  }

  private static long positiveNanos(String name, Duration duration) {
    if (duration == null || duration.isNegative() || duration.isZero()) {
      throw new IllegalArgumentException(name + " must be a positive duration, got " + duration);
    }
    return duration.toNanos();
  }

  /** Closes every channel and, unless it was given to the builder, the scheduler. */
  @Override
  public void close() {
    core.channels().close();
    if (core.ownsScheduler()) {
      core.scheduler().shutdownNow();
    }
    core.watchDelivery().shutdown();
  }

  /**
   * Settings of a {@link RingKvClient}; {@link #build()} checks them all and says what is wrong.
   */
  public static final class Builder {
    private List<String> endpoints = List.of();
    private Duration deadline = DEFAULT_DEADLINE;
    private Duration attemptTimeout = DEFAULT_ATTEMPT_TIMEOUT;
    private Duration backoffInitial = DEFAULT_BACKOFF_INITIAL;
    private Duration backoffMax = DEFAULT_BACKOFF_MAX;
    private Duration mapRefreshTimeout = DEFAULT_MAP_REFRESH_TIMEOUT;
    private int scanPageSize = DEFAULT_SCAN_PAGE_SIZE;
    private int idleSessionsMax = DEFAULT_IDLE_SESSIONS_MAX;
    private int messageSizeBytesMax = DEFAULT_MESSAGE_SIZE_BYTES_MAX;
    private RandomGenerator random;
    private LongSupplier nanoClock = System::nanoTime;
    private ScheduledExecutorService scheduler;
    private boolean directCallbacks;
    private final List<ClientInterceptor> interceptors = new ArrayList<>();
    private java.nio.file.Path tlsCaFile;
    private java.nio.file.Path tlsCertFile;
    private java.nio.file.Path tlsKeyFile;

    private Builder() {}

    /** Nodes to contact first, as host:port (the client learns the others from them). */
    public Builder endpoints(String... endpoints) {
      return endpoints(List.of(endpoints));
    }

    public Builder endpoints(List<String> endpoints) {
      this.endpoints = List.copyOf(endpoints);
      return this;
    }

    /** Default deadline of each call, retries included (default 10 s). */
    public Builder deadline(Duration deadline) {
      this.deadline = deadline;
      return this;
    }

    /** Longest single attempt, so one stuck node cannot use up a deadline (default 3 s). */
    public Builder attemptTimeout(Duration attemptTimeout) {
      this.attemptTimeout = attemptTimeout;
      return this;
    }

    /** First and largest retry backoff (defaults 20 ms and 1 s); each wait is jittered. */
    public Builder backoff(Duration initial, Duration max) {
      this.backoffInitial = initial;
      this.backoffMax = max;
      return this;
    }

    /** Timeout of one partition-map fetch from one node (default 2 s). */
    public Builder mapRefreshTimeout(Duration mapRefreshTimeout) {
      this.mapRefreshTimeout = mapRefreshTimeout;
      return this;
    }

    /** Pairs asked for per scan page unless the query says otherwise (default 500). */
    public Builder scanPageSize(int scanPageSize) {
      this.scanPageSize = scanPageSize;
      return this;
    }

    /** Released write sessions kept for reuse (default 256). */
    public Builder idleSessionsMax(int idleSessionsMax) {
      this.idleSessionsMax = idleSessionsMax;
      return this;
    }

    /** Largest response accepted (default 16 MiB). */
    public Builder messageSizeBytesMax(int messageSizeBytesMax) {
      this.messageSizeBytesMax = messageSizeBytesMax;
      return this;
    }

    /** Random source of session ids and backoff jitter (default: seeded from SecureRandom). */
    public Builder random(RandomGenerator random) {
      this.random = random;
      return this;
    }

    /** Monotonic clock in nanoseconds for deadlines (default System::nanoTime). */
    public Builder nanoClock(LongSupplier nanoClock) {
      this.nanoClock = nanoClock;
      return this;
    }

    /**
     * Completes calls on the gRPC transport thread instead of handing each response to a thread
     * pool first: one thread hand-off less per call (default false). Continuations attached to this
     * client's futures without an executor then run on that thread, so they must not block (never
     * {@code join()} another call of this client inside one). The blocking facade is safe.
     */
    public Builder directCallbacks(boolean direct) {
      this.directCallbacks = direct;
      return this;
    }

    /** Scheduler of retries; the client does not shut down a scheduler given here. */
    public Builder scheduler(ScheduledExecutorService scheduler) {
      this.scheduler = scheduler;
      return this;
    }

    /**
     * Speaks TLS to the nodes and trusts the certificates signed by the CA in {@code caFile} (PEM),
     * checking that each node's certificate names the host it is reached at (default: plaintext).
     */
    public Builder tls(java.nio.file.Path caFile) {
      this.tlsCaFile = caFile;
      return this;
    }

    /**
     * Presents the certificate in {@code certFile} with its key in {@code keyFile} (PEM, PKCS#8) to
     * nodes that ask for one (mutual TLS); needs {@link #tls}.
     */
    public Builder tlsClientCertificate(java.nio.file.Path certFile, java.nio.file.Path keyFile) {
      this.tlsCertFile = certFile;
      this.tlsKeyFile = keyFile;
      return this;
    }

    /**
     * The bearer token every call carries (as {@code ringctl auth user add} printed it), for a
     * cluster with auth on.
     *
     * @throws IllegalArgumentException for an empty token or one with spaces or control characters
     */
    public Builder token(String token) {
      interceptors.add(new BearerToken(token));
      return this;
    }

    /** Adds a gRPC interceptor to every channel (tracing, fault injection in tests). */
    public Builder interceptor(ClientInterceptor interceptor) {
      if (interceptor == null) {
        throw new IllegalArgumentException("interceptor must not be null");
      }
      interceptors.add(interceptor);
      return this;
    }

    /**
     * A client with these settings. Opens no connection yet.
     *
     * @throws IllegalArgumentException naming the first bad setting
     */
    public RingKvClient build() {
      if (endpoints.isEmpty()) {
        throw new IllegalArgumentException(
            "at least one endpoint (host:port) is required, e.g. 127.0.0.11:7379");
      }
      List<String> normalised = Endpoints.normalise(endpoints);
      long deadlineNanos = positiveNanos("deadline", deadline);
      long attemptNanos = positiveNanos("attempt timeout", attemptTimeout);
      long backoffInitialNanos = positiveNanos("initial backoff", backoffInitial);
      long backoffMaxNanos = positiveNanos("max backoff", backoffMax);
      if (backoffMaxNanos < backoffInitialNanos) {
        throw new IllegalArgumentException(
            "max backoff " + backoffMax + " is below initial backoff " + backoffInitial);
      }
      long refreshNanos = positiveNanos("map refresh timeout", mapRefreshTimeout);
      if (scanPageSize < 1) {
        throw new IllegalArgumentException("scan page size must be >= 1, got " + scanPageSize);
      }
      if (idleSessionsMax < 1) {
        throw new IllegalArgumentException(
            "idle sessions max must be >= 1, got " + idleSessionsMax);
      }
      if (messageSizeBytesMax < MESSAGE_SIZE_BYTES_MIN) {
        throw new IllegalArgumentException(
            "message size max must be >= "
                + MESSAGE_SIZE_BYTES_MIN
                + " bytes, got "
                + messageSizeBytesMax);
      }
      if (nanoClock == null) {
        throw new IllegalArgumentException("nano clock must not be null");
      }
      RandomGenerator chosenRandom = random != null ? random : newSeededRandom();
      boolean ownsScheduler = scheduler == null;
      ScheduledExecutorService chosenScheduler =
          ownsScheduler
              ? Executors.newSingleThreadScheduledExecutor(runnable -> {
                Thread thread = new Thread(runnable, "ringkv-client-retry");
                thread.setDaemon(true);
                return thread;
              })
              : scheduler;
      ChannelPool channels =
          new ChannelPool(interceptors, messageSizeBytesMax, directCallbacks, tlsCredentials());
      Transport transport = new Transport(channels);
      Router router = new Router(normalised, transport, refreshNanos);
      Backoff backoff = new Backoff(backoffInitialNanos, backoffMaxNanos, chosenRandom);
      RetryingCaller caller =
          new RetryingCaller(router, transport, backoff, nanoClock, chosenScheduler, attemptNanos);
      Core core =
          new Core(
              normalised,
              channels,
              transport,
              router,
              caller,
              new SessionPool(chosenRandom, idleSessionsMax),
              nanoClock,
              chosenScheduler,
              ownsScheduler,
              scanPageSize,
              backoff,
              Executors.newCachedThreadPool(runnable -> {
                Thread thread = new Thread(runnable, "ringkv-watch-delivery");
                thread.setDaemon(true);
                return thread;
              }),
              new AtomicInteger(chosenRandom.nextInt(1 << 16)));
      return new RingKvClient(core, deadlineNanos);
    }

    /** The TLS credentials of the files given, read now; null for plaintext. */
    private io.grpc.ChannelCredentials tlsCredentials() {
      if (tlsCaFile == null) {
        if (tlsCertFile != null || tlsKeyFile != null) {
          throw new IllegalArgumentException(
              "a client certificate needs TLS: give the CA file too (tls(caFile))");
        }
        return null;
      }
      if ((tlsCertFile == null) != (tlsKeyFile == null)) {
        throw new IllegalArgumentException("a client certificate needs both its file and its key");
      }
      io.grpc.TlsChannelCredentials.Builder credentials =
          io.grpc.TlsChannelCredentials.newBuilder();
      String reading = "CA file " + tlsCaFile;
      try {
        credentials.trustManager(tlsCaFile.toFile());
        if (tlsCertFile != null) {
          reading = "client certificate " + tlsCertFile + " with key " + tlsKeyFile;
          credentials.keyManager(tlsCertFile.toFile(), tlsKeyFile.toFile());
        }
      } catch (java.io.IOException | RuntimeException e) {
        throw new IllegalArgumentException("cannot read the TLS " + reading + ": " + e, e);
      }
      return credentials.build();
    }

    private static RandomGenerator newSeededRandom() {
      // Session ids must differ between clients: seed from the OS, not from the time.
      return java.util.random.RandomGeneratorFactory.of("L64X128MixRandom")
          .create(new SecureRandom().nextLong());
    }
  }

  /** Cluster inspection and leader transfer; answers are the API's protobuf messages. */
  public static final class ClusterAdmin {
    private final RingKvClient client;

    private ClusterAdmin(RingKvClient client) {
      this.client = client;
    }

    /** The status of the cluster as any reachable node sees it. */
    public CompletableFuture<StatusResponse> status() {
      return client
          .call(
              "cluster status",
              ClusterGrpc.getStatusMethod(),
              StatusRequest.getDefaultInstance(),
              null,
              false)
          .thenApply(response -> client.learnEpoch(response, response.getMapEpoch()));
    }

    /** The status as the node at {@code address} sees it: one attempt, no retry elsewhere. */
    public CompletableFuture<StatusResponse> statusOf(String address) {
      return client.callNode(
          address, ClusterGrpc.getStatusMethod(), StatusRequest.getDefaultInstance());
    }

    public CompletableFuture<MembersResponse> members() {
      return client
          .call(
              "cluster members",
              ClusterGrpc.getMembersMethod(),
              MembersRequest.getDefaultInstance(),
              null,
              false)
          .thenApply(response -> client.learnEpoch(response, response.getMapEpoch()));
    }

    public CompletableFuture<PartitionsResponse> partitions() {
      return client
          .call(
              "cluster partitions",
              ClusterGrpc.getPartitionsMethod(),
              PartitionsRequest.getDefaultInstance(),
              null,
              false)
          .thenApply(response -> client.learnEpoch(response, response.getMapEpoch()));
    }

    /**
     * Whether the node at {@code address} offers the KV service: a serializable Get of a probe key,
     * where any answer but UNIMPLEMENTED (found, not found, NOT_LEADER ...) means yes. Fails when
     * the node does not answer.
     */
    public CompletableFuture<Boolean> kvServiceOffered(String address) {
      GetRequest probe =
          GetRequest.newBuilder()
              .setKey(ByteString.copyFromUtf8("ringkv-client-probe"))
              .setConsistency(io.ringkv.proto.v1.ReadConsistency.SERIALIZABLE)
              .build();
      return client
          .callNode(address, KVGrpc.getGetMethod(), probe)
          .handle((response, error) -> {
            if (error == null) {
              return true;
            }
            io.grpc.Status.Code code = io.grpc.Status.fromThrowable(error).getCode();
            if (code == io.grpc.Status.Code.UNIMPLEMENTED) {
              return false;
            }
            if (code == io.grpc.Status.Code.UNAVAILABLE
                || code == io.grpc.Status.Code.DEADLINE_EXCEEDED) {
              throw new java.util.concurrent.CompletionException(
                  CallFailure.classify(error, address)
                      .toException(false, false, true, "KV probe of " + address));
            }
            return true;
          });
    }

    /**
     * Joins the running node at {@code clientAddress} (started with --join) to the cluster; its
     * replicas move to it in the background (see {@link #status()}). Sent as a write: if the answer
     * is lost after the change may have been made, it fails with {@link OutcomeUnknownException}
     * instead of being sent again.
     */
    public CompletableFuture<AddNodeResponse> addNode(String clientAddress) {
      AddNodeRequest request = AddNodeRequest.newBuilder().setClientAddress(clientAddress).build();
      return client
          .call("join of " + clientAddress, ClusterGrpc.getAddNodeMethod(), request, null, true)
          .thenApply(response -> client.learnEpoch(response, response.getMapEpoch()));
    }

    /**
     * Decommissions node {@code nodeId} (its replicas move off, then it is removed), or with {@code
     * dead} removes a node that will not come back (its replicas are re-created elsewhere). Sent as
     * a write, as {@link #addNode}.
     */
    public CompletableFuture<RemoveNodeResponse> removeNode(long nodeId, boolean dead) {
      RemoveNodeRequest request =
          RemoveNodeRequest.newBuilder().setNodeId(nodeId).setDead(dead).build();
      return client
          .call(
              (dead ? "removal of dead node " : "decommission of node ") + nodeId,
              ClusterGrpc.getRemoveNodeMethod(),
              request,
              null,
              true)
          .thenApply(response -> client.learnEpoch(response, response.getMapEpoch()));
    }

    /** The replica moves a join of the node at {@code clientAddress} would make (a dry run). */
    public CompletableFuture<PlanResponse> planJoin(String clientAddress) {
      return plan(PlanRequest.newBuilder().setJoinAddress(clientAddress).build());
    }

    /** The moves the current map still needs and no round has started: empty when balanced. */
    public CompletableFuture<PlanResponse> planPending() {
      return plan(PlanRequest.getDefaultInstance());
    }

    /** The replica moves removing node {@code nodeId} would make (a dry run). */
    public CompletableFuture<PlanResponse> planRemove(long nodeId) {
      return plan(PlanRequest.newBuilder().setRemoveNodeId(nodeId).build());
    }

    private CompletableFuture<PlanResponse> plan(PlanRequest request) {
      return client.call("membership plan", ClusterGrpc.getPlanMethod(), request, null, false);
    }

    /** Asks {@code partition}'s leader to hand leadership to node {@code toNodeId}. */
    public CompletableFuture<TransferLeaderResponse> transferLeader(int partition, long toNodeId) {
      TransferLeaderRequest request =
          TransferLeaderRequest.newBuilder().setPartition(partition).setToNodeId(toNodeId).build();
      return client.call(
          "leader transfer of partition " + partition,
          ClusterGrpc.getTransferLeaderMethod(),
          request,
          null,
          false);
    }
  }
}
