package io.ringkv.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Any;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.StreamObserver;
import io.ringkv.proto.v1.ErrorDetail;
import io.ringkv.proto.v1.GetRequest;
import io.ringkv.proto.v1.GetResponse;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.proto.v1.PutResponse;
import io.ringkv.proto.v1.WriteSession;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiFunction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Proves the retry loop over real gRPC on loopback, against small scripted KV services (the real KV
 * service is not in the server yet): a NOT_LEADER answer sends the request to the named leader; a
 * write whose response was lost is retried with the same (session, sequence) and a server that
 * deduplicates by the contract applies it once; a node that never answers ends a read with
 * DeadlineExceeded and a write with OutcomeUnknown, both within the deadline; a closed port gives
 * "no node reachable"; INVALID_ARGUMENT is not retried; a SESSION_EXPIRED answer to a write's first
 * attempt sends it again on a fresh session (the expired one is dropped), and to a retry of a write
 * that may have applied ends it with OutcomeUnknown, never sending it again.
 */
class RetryAgainstScriptedNodesTest {
  private final List<Server> servers = new CopyOnWriteArrayList<>();

  /** A KV service whose Get and Put behave as the test says. */
  static final class ScriptedKv extends KVGrpc.KVImplBase {
    final AtomicInteger gets = new AtomicInteger();
    final List<WriteSession> putSessions = new CopyOnWriteArrayList<>();
    BiFunction<Integer, GetRequest, Object> onGet = (n, r) -> GetResponse.getDefaultInstance();
    BiFunction<Integer, PutRequest, Object> onPut = (n, r) -> PutResponse.getDefaultInstance();

    @Override
    public void get(GetRequest request, StreamObserver<GetResponse> observer) {
      answer(onGet.apply(gets.incrementAndGet(), request), observer);
    }

    @Override
    public void put(PutRequest request, StreamObserver<PutResponse> observer) {
      putSessions.add(request.getSession());
      answer(onPut.apply(putSessions.size(), request), observer);
    }

    @SuppressWarnings("unchecked")
    private static <T> void answer(Object outcome, StreamObserver<T> observer) {
      if (outcome == null) {
        return; // never answer: the client's deadline must end the call
      }
      if (outcome instanceof Throwable error) {
        observer.onError(error);
        return;
      }
      observer.onNext((T) outcome);
      observer.onCompleted();
    }
  }

  private String start(ScriptedKv service) throws Exception {
    Server server =
        NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
            .addService(service)
            .build()
            .start();
    servers.add(server);
    return "127.0.0.1:" + server.getPort();
  }

  @AfterEach
  void stopServers() {
    servers.forEach(Server::shutdownNow);
  }

  private static RingKvClient client(Duration deadline, String... endpoints) {
    return RingKvClient.builder()
        .endpoints(endpoints)
        .deadline(deadline)
        .attemptTimeout(Duration.ofMillis(300))
        .backoff(Duration.ofMillis(5), Duration.ofMillis(50))
        .mapRefreshTimeout(Duration.ofMillis(200))
        .build();
  }

  static Throwable withDetail(Status.Code code, String message, ErrorDetail detail) {
    return StatusProto.toStatusRuntimeException(
        com.google.rpc.Status.newBuilder()
            .setCode(code.value())
            .setMessage(message)
            .addDetails(Any.pack(detail))
            .build());
  }

  static Throwable notLeader(String leaderAddress) {
    return withDetail(
        Status.Code.UNAVAILABLE,
        "not the leader",
        ErrorDetail.newBuilder()
            .setReason(ErrorDetail.Reason.NOT_LEADER)
            .setLeaderHint(2)
            .setLeaderAddress(leaderAddress)
            .build());
  }

  @Test
  void notLeaderRedirectsToTheNamedLeader() throws Exception {
    ScriptedKv leader = new ScriptedKv();
    leader.onGet = (n, r) -> GetResponse.newBuilder().setFound(true).setVersion(3).build();
    String leaderAddress = start(leader);
    ScriptedKv follower = new ScriptedKv();
    follower.onGet = (n, r) -> notLeader(leaderAddress);
    String followerAddress = start(follower);
    try (RingKvClient client = client(Duration.ofSeconds(5), followerAddress)) {
      assertThat(client.blocking().get("k")).get().extracting(Entry::version).isEqualTo(3L);
    }
    assertThat(follower.gets).hasValue(1);
    assertThat(leader.gets).hasValue(1);
  }

  @Test
  void aLostResponseIsRetriedWithTheSameSessionAndAppliedOnce() throws Exception {
    ScriptedKv node = new ScriptedKv();
    Map<Long, long[]> lastBySession = new ConcurrentHashMap<>();
    AtomicInteger applied = new AtomicInteger();
    node.onPut =
        (n, request) -> {
          WriteSession session = request.getSession();
          long[] last = lastBySession.computeIfAbsent(session.getSessionId(), id -> new long[1]);
          if (session.getSequence() > last[0]) {
            last[0] = session.getSequence();
            applied.incrementAndGet();
          }
          // The first response is "lost": the write was applied but the client hears an error.
          return n == 1
              ? Status.UNAVAILABLE.withDescription("connection reset").asRuntimeException()
              : PutResponse.newBuilder().setRevision(applied.get()).build();
        };
    String address = start(node);
    try (RingKvClient client = client(Duration.ofSeconds(5), address)) {
      client.blocking().put("k", "v");
      client.blocking().put("k", "w");
      assertThat(client.sessions().inUseCount()).isZero();
    }
    assertThat(applied).hasValue(2);
    List<WriteSession> seen = node.putSessions;
    assertThat(seen).hasSize(3);
    assertThat(seen.get(0)).isEqualTo(seen.get(1));
    assertThat(seen.get(0).getSessionId()).isNotZero();
    // The second write reuses the released session with the next sequence.
    assertThat(seen.get(2).getSessionId()).isEqualTo(seen.get(0).getSessionId());
    assertThat(seen.get(2).getSequence()).isEqualTo(seen.get(0).getSequence() + 1);
  }

  static Throwable sessionExpired() {
    return withDetail(
        Status.Code.FAILED_PRECONDITION,
        "session expired",
        ErrorDetail.newBuilder().setReason(ErrorDetail.Reason.SESSION_EXPIRED).build());
  }

  @Test
  void aFreshWriteOnAnExpiredSessionGoesAgainOnANewSession() throws Exception {
    ScriptedKv node = new ScriptedKv();
    node.onPut =
        (n, request) -> n == 1 ? sessionExpired() : PutResponse.newBuilder().setRevision(7).build();
    String address = start(node);
    try (RingKvClient client = client(Duration.ofSeconds(5), address)) {
      client.blocking().put("k", "v");
      assertThat(client.sessions().inUseCount()).isZero();
      client.blocking().put("k", "w");
    }
    List<WriteSession> seen = node.putSessions;
    assertThat(seen).hasSize(3);
    assertThat(seen.get(1).getSessionId()).isNotEqualTo(seen.get(0).getSessionId());
    assertThat(seen.get(1).getSequence()).isEqualTo(1);
    // The expired session is never used again.
    assertThat(seen.get(2).getSessionId()).isNotEqualTo(seen.get(0).getSessionId());
  }

  @Test
  void aRetriedWriteMeetingAnExpiredSessionIsOutcomeUnknownAndNotSentAgain() throws Exception {
    ScriptedKv node = new ScriptedKv();
    node.onPut =
        (n, request) ->
            n == 1
                ? Status.UNAVAILABLE.withDescription("connection reset").asRuntimeException()
                : sessionExpired();
    String address = start(node);
    try (RingKvClient client = client(Duration.ofSeconds(5), address)) {
      assertThatThrownBy(() -> client.blocking().put("k", "v"))
          .isInstanceOf(OutcomeUnknownException.class)
          .hasMessageContaining("session has since expired");
    }
    assertThat(node.putSessions).hasSize(2);
    assertThat(node.putSessions.get(1)).isEqualTo(node.putSessions.get(0));
  }

  @Test
  void aSilentNodeEndsReadsAndWritesAtTheDeadline() throws Exception {
    ScriptedKv silent = new ScriptedKv();
    silent.onGet = (n, r) -> null;
    silent.onPut = (n, r) -> null;
    String address = start(silent);
    Duration deadline = Duration.ofMillis(1000);
    try (RingKvClient client = client(deadline, address)) {
      long started = System.nanoTime();
      assertThatThrownBy(() -> client.blocking().get("k"))
          .isInstanceOf(DeadlineExceededException.class);
      assertThatThrownBy(() -> client.blocking().put("k", "v"))
          .isInstanceOf(OutcomeUnknownException.class)
          .hasMessageContaining("may or may not have been applied");
      long elapsedMillis = (System.nanoTime() - started) / 1_000_000;
      assertThat(elapsedMillis).isLessThan(2 * deadline.toMillis() + 1000);
      assertThat(silent.gets.get()).isGreaterThan(1); // attempts are cut by the attempt timeout
    }
  }

  @Test
  void aClosedPortIsReportedAsNoNodeReachable() throws Exception {
    ScriptedKv node = new ScriptedKv();
    String address = start(node);
    servers.get(0).shutdownNow().awaitTermination();
    try (RingKvClient client = client(Duration.ofMillis(500), address)) {
      assertThatThrownBy(() -> client.blocking().put("k", "v"))
          .isInstanceOf(UnavailableException.class)
          .hasMessageContaining("no node reachable at " + address);
    }
  }

  @Test
  void invalidArgumentIsNotRetried() throws Exception {
    ScriptedKv node = new ScriptedKv();
    node.onGet =
        (n, r) -> Status.INVALID_ARGUMENT.withDescription("key too big").asRuntimeException();
    String address = start(node);
    try (RingKvClient client = client(Duration.ofSeconds(5), address)) {
      assertThatThrownBy(() -> client.blocking().get("k"))
          .isInstanceOf(InvalidRequestException.class)
          .hasMessageContaining("key too big");
    }
    assertThat(node.gets).hasValue(1);
  }
}
