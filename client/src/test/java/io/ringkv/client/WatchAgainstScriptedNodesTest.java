package io.ringkv.client;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.ringkv.proto.v1.ErrorDetail;
import io.ringkv.proto.v1.Event;
import io.ringkv.proto.v1.WatchGrpc;
import io.ringkv.proto.v1.WatchRequest;
import io.ringkv.proto.v1.WatchResponse;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Proves the client side of Watch over real gRPC on loopback (127.0.0.117-118, this suite's
 * addresses), against scripted Watch services: a stream that fails is resumed from the cursor of
 * the last item handed to the subscriber, and items received but not handed over are fetched again,
 * not lost and not repeated, even inside one revision; a node that owes a response and stays silent
 * past the idle timeout is left for another; a compacted cursor ends the watch with
 * WatchCompactedException carrying the partition and oldest retained revisions, without a retry; a
 * refused query is not retried; and a subscriber that asks for one item at a time holds the client
 * to a bounded number of responses while the node is held back by gRPC flow control.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class WatchAgainstScriptedNodesTest {
  static final Duration WAIT = Duration.ofSeconds(10);

  private final List<Server> servers = new CopyOnWriteArrayList<>();
  private final ExecutorService scripts = Executors.newCachedThreadPool();

  interface Script {
    void run(int call, WatchRequest request, ServerCallStreamObserver<WatchResponse> out)
        throws Exception;
  }

  /** A Watch service whose every stream runs the script on a thread of its own. */
  final class ScriptedWatch extends WatchGrpc.WatchImplBase {
    final List<WatchRequest> requests;
    final AtomicInteger calls;
    final Script script;

    ScriptedWatch(List<WatchRequest> requests, AtomicInteger calls, Script script) {
      this.requests = requests;
      this.calls = calls;
      this.script = script;
    }

    @Override
    public void watch(WatchRequest request, StreamObserver<WatchResponse> observer) {
      requests.add(request);
      int call = calls.incrementAndGet();
      ServerCallStreamObserver<WatchResponse> out =
          (ServerCallStreamObserver<WatchResponse>) observer;
      scripts.execute(() -> {
        try {
          script.run(call, request, out);
        } catch (Exception e) {
          out.onError(Status.INTERNAL.withDescription(e.toString()).asRuntimeException());
        }
      });
    }
  }

  private String start(int host, ScriptedWatch service) throws Exception {
    Server server =
        NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0." + host, 0))
            .addService(service)
            .build()
            .start();
    servers.add(server);
    return "127.0.0." + host + ":" + server.getPort();
  }

  @AfterEach
  void stop() {
    servers.forEach(Server::shutdownNow);
    scripts.shutdownNow();
  }

  private static RingKvClient client(String... endpoints) {
    return RingKvClient.builder()
        .endpoints(endpoints)
        .backoff(Duration.ofMillis(5), Duration.ofMillis(50))
        .mapRefreshTimeout(Duration.ofMillis(300))
        .build();
  }

  static Event event(int partition, long revision, int ordinal, String key) {
    return Event.newBuilder()
        .setPartition(partition)
        .setRevision(revision)
        .setOrdinal(ordinal)
        .setKey(ByteString.copyFromUtf8(key))
        .setValue(ByteString.copyFromUtf8("v" + revision))
        .build();
  }

  static WatchResponse response(Map<Integer, Long> cursor, Event... events) {
    return WatchResponse.newBuilder()
        .addAllEvents(List.of(events))
        .setCursor(io.ringkv.proto.v1.WatchCursor.newBuilder().putAllRevisions(cursor))
        .build();
  }

  static WatchResponse created(Map<Integer, Long> cursor) {
    return response(cursor).toBuilder().setCreated(true).setWatchId(7).build();
  }

  static List<String> positions(List<WatchEvent> events) {
    return events.stream()
        .map(e -> e.partition() + ":" + e.revision() + "/" + e.ordinal())
        .toList();
  }

  /**
   * Serves the events of {@code log} after the request's cursor (partition 0), {@code perResponse}
   * at a time; the first call then waits for {@code failFirst} and fails with UNAVAILABLE, later
   * calls stay open.
   */
  static Script logServer(
      List<Event> log, int perResponse, java.util.concurrent.CountDownLatch failFirst) {
    return (call, request, out) -> {
      long after = request.getCursor().getRevisionsOrDefault(0, 10L);
      out.onNext(created(Map.of(0, after)));
      List<Event> rest = log.stream().filter(e -> e.getRevision() > after).toList();
      for (int i = 0; i < rest.size(); i += perResponse) {
        List<Event> chunk = rest.subList(i, Math.min(rest.size(), i + perResponse));
        out.onNext(
            response(
                Map.of(0, chunk.get(chunk.size() - 1).getRevision()), chunk.toArray(Event[]::new)));
      }
      if (call == 1) {
        failFirst.await();
        out.onError(Status.UNAVAILABLE.withDescription("node going down").asRuntimeException());
      }
    };
  }

  @Test
  void aFailedStreamResumesFromTheLastCursorOnAnotherNode() throws Exception {
    List<WatchRequest> requests = new CopyOnWriteArrayList<>();
    AtomicInteger calls = new AtomicInteger();
    java.util.concurrent.CountDownLatch fail = new java.util.concurrent.CountDownLatch(1);
    List<Event> log = new java.util.ArrayList<>();
    for (int revision = 11; revision <= 14; revision++) {
      log.add(event(0, revision, 0, "k" + revision));
    }
    Script script = logServer(log, 3, fail);
    String first = start(117, new ScriptedWatch(requests, calls, script));
    String second = start(118, new ScriptedWatch(requests, calls, script));
    WatchTestSubscriber subscriber = new WatchTestSubscriber(100);
    try (RingKvClient client = client(first, second)) {
      client.watch(WatchQuery.prefix("").fromNow()).subscribe(subscriber);
      List<WatchEvent> before = subscriber.events(4, WAIT);
      log.add(event(0, 15, 0, "k15"));
      log.add(event(0, 16, 0, "k16"));
      fail.countDown();
      List<WatchEvent> after = subscriber.events(2, WAIT);
      assertThat(positions(before)).containsExactly("0:11/0", "0:12/0", "0:13/0", "0:14/0");
      assertThat(positions(after)).containsExactly("0:15/0", "0:16/0");
      assertThat(before.get(3).cursor()).isEqualTo(WatchCursor.parse("0:14"));
      assertThat(requests).hasSize(2);
      assertThat(WatchCursor.fromProto(requests.get(1).getCursor()))
          .isEqualTo(WatchCursor.parse("0:14"));
      assertThat(requests.get(1).getAll()).isTrue();
    }
  }

  @Test
  void itemsNotHandedOverAreFetchedAgainAndNothingOfARevisionRepeats() throws Exception {
    List<WatchRequest> requests = new CopyOnWriteArrayList<>();
    AtomicInteger calls = new AtomicInteger();
    java.util.concurrent.CountDownLatch fail = new java.util.concurrent.CountDownLatch(1);
    List<Event> log =
        List.of(
            event(0, 11, 0, "a"),
            event(0, 12, 0, "t1"),
            event(0, 12, 1, "t2"),
            event(0, 13, 0, "a"));
    // The whole log in one response; a resumed stream resends all of revision 12.
    Script script = logServer(log, 4, fail);
    String first = start(117, new ScriptedWatch(requests, calls, script));
    String second = start(118, new ScriptedWatch(requests, calls, script));
    WatchTestSubscriber subscriber = new WatchTestSubscriber(0);
    try (RingKvClient client = client(first, second)) {
      WatchSubscription watch = client.newWatch(WatchQuery.prefix("").fromNow(), subscriber);
      watch.start();
      subscriber.subscription.request(3); // the created progress, 11, and 12/0
      assertThat(subscriber.next(WAIT)).isInstanceOf(WatchProgress.class);
      WatchEvent eleven = (WatchEvent) subscriber.next(WAIT);
      WatchEvent twelveFirst = (WatchEvent) subscriber.next(WAIT);
      assertThat(eleven.cursor()).isEqualTo(WatchCursor.parse("0:11"));
      // Not the last event of revision 12: the cursor cannot move past 11 yet.
      assertThat(twelveFirst.cursor()).isEqualTo(WatchCursor.parse("0:11"));
      fail.countDown(); // 12/1 and 13 were received but not handed over
      subscriber.await(s -> requests.size() == 2, WAIT, "the watch resumed");
      assertThat(WatchCursor.fromProto(requests.get(1).getCursor()))
          .isEqualTo(WatchCursor.parse("0:11"));
      subscriber.subscription.request(10);
      List<WatchEvent> rest = subscriber.events(2, WAIT);
      assertThat(positions(rest)).containsExactly("0:12/1", "0:13/0");
      assertThat(rest.get(0).cursor()).isEqualTo(WatchCursor.parse("0:12"));
      assertThat(watch.restarts()).isEqualTo(1);
    }
  }

  /**
   * A node splits a revision too large for one response; the first part's cursor stays before the
   * revision. The client must not take the last event of that part for the revision's last.
   */
  @Test
  void aRevisionSplitOverTwoResponsesMovesTheCursorOnlyAtItsEnd() throws Exception {
    List<WatchRequest> requests = new CopyOnWriteArrayList<>();
    Script script =
        (call, request, out) -> {
          out.onNext(created(Map.of(0, 11L)));
          out.onNext(response(Map.of(0, 11L), event(0, 12, 0, "t1")));
          out.onNext(response(Map.of(0, 13L), event(0, 12, 1, "t2"), event(0, 13, 0, "a")));
        };
    String node = start(117, new ScriptedWatch(requests, new AtomicInteger(), script));
    WatchTestSubscriber subscriber = new WatchTestSubscriber(0);
    try (RingKvClient client = client(node)) {
      WatchSubscription watch = client.newWatch(WatchQuery.prefix("").fromNow(), subscriber);
      watch.start();
      subscriber.subscription.request(10);
      List<WatchEvent> events = subscriber.events(3, WAIT);
      assertThat(positions(events)).containsExactly("0:12/0", "0:12/1", "0:13/0");
      assertThat(events.stream().map(WatchEvent::cursor))
          .containsExactly(
              WatchCursor.parse("0:11"), WatchCursor.parse("0:12"), WatchCursor.parse("0:13"));
      assertThat(watch.restarts()).isZero();
    }
  }

  @Test
  void aNodeThatOwesAResponseAndStaysSilentIsLeftForAnother() throws Exception {
    List<WatchRequest> requests = new CopyOnWriteArrayList<>();
    AtomicInteger calls = new AtomicInteger();
    Script script =
        (call, request, out) -> {
          out.onNext(created(Map.of(0, 10L)));
          if (call > 1) {
            out.onNext(response(Map.of(0, 11L), event(0, 11, 0, "a")));
          } // the first node then hangs: no progress, no error, an open stream
        };
    String first = start(117, new ScriptedWatch(requests, calls, script));
    String second = start(118, new ScriptedWatch(requests, calls, script));
    WatchTestSubscriber subscriber = new WatchTestSubscriber(100);
    try (RingKvClient client = client(first, second)) {
      client.watch(WatchQuery.all().withIdleTimeout(Duration.ofMillis(300))).subscribe(subscriber);
      assertThat(positions(subscriber.events(1, WAIT))).containsExactly("0:11/0");
      assertThat(requests).hasSize(2);
      assertThat(requests.get(0).getAll()).isTrue();
    }
  }

  @Test
  void aCompactedCursorEndsTheWatchWithATypedErrorAndNoRetry() throws Exception {
    List<WatchRequest> requests = new CopyOnWriteArrayList<>();
    AtomicInteger calls = new AtomicInteger();
    Script script =
        (call, request, out) -> {
          ErrorDetail detail =
              ErrorDetail.newBuilder()
                  .setReason(ErrorDetail.Reason.COMPACTED)
                  .setPartition(3)
                  .setOldestRetainedRevision(40)
                  .build();
          out.onNext(
              WatchResponse.newBuilder()
                  .setCompacted(detail)
                  .putOldestRetained(3, 40)
                  .putOldestRetained(5, 7)
                  .build());
          out.onError(
              RetryAgainstScriptedNodesTest.withDetail(
                  Status.Code.FAILED_PRECONDITION, "cursor compacted", detail));
        };
    String node = start(117, new ScriptedWatch(requests, calls, script));
    WatchTestSubscriber subscriber = new WatchTestSubscriber(10);
    try (RingKvClient client = client(node)) {
      client
          .watch(WatchQuery.all().fromCursor(WatchCursor.parse("3:2,5:1"), WatchQuery.Start.NOW))
          .subscribe(subscriber);
      subscriber.await(s -> s.error != null, WAIT, "the watch failed");
    }
    assertThat(subscriber.error).isInstanceOf(WatchCompactedException.class);
    WatchCompactedException compacted = (WatchCompactedException) subscriber.error;
    assertThat(compacted.partition()).isEqualTo(3);
    assertThat(compacted.oldestRetained())
        .containsExactlyInAnyOrderEntriesOf(Map.of(3, 40L, 5, 7L));
    assertThat(requests).hasSize(1);
    assertThat(WatchCursor.fromProto(requests.get(0).getCursor()))
        .isEqualTo(WatchCursor.parse("3:2,5:1"));
  }

  @Test
  void aRefusedQueryIsNotRetried() throws Exception {
    List<WatchRequest> requests = new CopyOnWriteArrayList<>();
    AtomicInteger calls = new AtomicInteger();
    Script script =
        (call, request, out) ->
            out.onError(
                Status.INVALID_ARGUMENT.withDescription("prefix too long").asRuntimeException());
    String node = start(117, new ScriptedWatch(requests, calls, script));
    WatchTestSubscriber subscriber = new WatchTestSubscriber(10);
    try (RingKvClient client = client(node)) {
      client.watch(WatchQuery.prefix("p")).subscribe(subscriber);
      subscriber.await(s -> s.error != null, WAIT, "the watch failed");
    }
    assertThat(subscriber.error).isInstanceOf(InvalidRequestException.class);
    assertThat(requests).hasSize(1);
  }

  @Test
  void aSubscriberTakingOneItemAtATimeHoldsTheClientToABoundedBuffer() throws Exception {
    int responses = 400;
    byte[] value = new byte[64 * 1024];
    AtomicLong sent = new AtomicLong();
    Script script =
        (call, request, out) -> {
          Object ready = new Object();
          out.setOnReadyHandler(() -> {
            synchronized (ready) {
              ready.notifyAll();
            }
          });
          out.onNext(created(Map.of(0, 0L)));
          for (int i = 1; i <= responses; i++) {
            synchronized (ready) {
              while (!out.isReady() && !out.isCancelled()) {
                ready.wait(100); // re-check bound: the ready handler normally wakes this
              }
            }
            Event event =
                event(0, i, 0, "k").toBuilder().setValue(ByteString.copyFrom(value)).build();
            out.onNext(response(Map.of(0, (long) i), event));
            sent.incrementAndGet();
          }
        };
    String node =
        start(117, new ScriptedWatch(new CopyOnWriteArrayList<>(), new AtomicInteger(), script));
    WatchTestSubscriber subscriber = new WatchTestSubscriber(0);
    long aheadMax = 0;
    try (RingKvClient client = client(node)) {
      WatchSubscription watch =
          client.newWatch(WatchQuery.all().withResponsesBufferedMax(2), subscriber);
      watch.start();
      int delivered = 0;
      while (delivered < responses) {
        subscriber.subscription.request(1);
        if (subscriber.next(WAIT) instanceof WatchEvent event) {
          delivered++;
          assertThat(event.revision()).isEqualTo(delivered);
        }
        aheadMax = Math.max(aheadMax, sent.get() - delivered);
      }
      assertThat(watch.responsesHeldHighWater()).isLessThanOrEqualTo(2);
    }
    // Without flow control the node would run all 400 responses ahead; with it, no more than the
    // HTTP/2 window (1 MiB: 16 of these 64 KiB responses), the socket buffers and the client's
    // buffer of 2 hold.
    System.out.println("node ran ahead of the subscriber by at most " + aheadMax + " responses");
    assertThat(aheadMax).isLessThanOrEqualTo(40);
  }
}
