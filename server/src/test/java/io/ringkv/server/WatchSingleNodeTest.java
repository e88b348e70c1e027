package io.ringkv.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.ringkv.proto.v1.DeleteRequest;
import io.ringkv.proto.v1.ErrorDetail;
import io.ringkv.proto.v1.Event;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.proto.v1.ProgressRequest;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.proto.v1.WatchCursor;
import io.ringkv.proto.v1.WatchGrpc;
import io.ringkv.proto.v1.WatchRequest;
import io.ringkv.proto.v1.WatchResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Watch on one real node (127.0.0.131, four partitions), through gRPC only. Proves: a NOW stream
 * gets exactly the selected changes made after it was created, with revisions equal to the writes'
 * revisions, previous values, and DELETEs; OLDEST replays every retained change; a stream started
 * from a cursor of an earlier stream sees exactly what followed that cursor; a key stream sees one
 * key only; an idle stream gets progress responses whose cursor and resolved revisions reach the
 * applied index, and one at once on RequestProgress; watches-max refuses one stream too many with
 * RESOURCE_EXHAUSTED naming the limit; a request without a selector is refused INVALID_ARGUMENT.
 * Events carry hybrid-logical-clock stamps that strictly increase with the revision even when many
 * writes share a millisecond. A cursor older than retention ends the stream FAILED_PRECONDITION
 * with a COMPACTED detail and a last response naming the oldest retained revision, or, with
 * on_compacted SNAPSHOT, continues from a snapshot of the selected keys and then the tail. A
 * consumer that never reads while writes continue makes the node hold no more than
 * watch-buffer-bytes-max for it, and later reads every change in order.
 */
class WatchSingleNodeTest {
  private static final String[] HOSTS = {"127.0.0.131"};

  @TempDir Path dataDir;
  private RealTestCluster cluster;
  private final List<WatchProbe> probes = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    probes.forEach(WatchProbe::close);
    if (cluster != null) {
      cluster.close();
    }
  }

  private WatchProbe watch(WatchRequest request) {
    WatchProbe probe = WatchProbe.open(cluster.channels[0], request);
    probes.add(probe);
    return probe;
  }

  private long put(String key, String value) {
    return cluster
        .kv[0]
        .withDeadlineAfter(10, TimeUnit.SECONDS)
        .put(
            PutRequest.newBuilder()
                .setKey(ByteString.copyFromUtf8(key))
                .setValue(ByteString.copyFromUtf8(value))
                .build())
        .getRevision();
  }

  private long delete(String key) {
    return cluster
        .kv[0]
        .withDeadlineAfter(10, TimeUnit.SECONDS)
        .delete(DeleteRequest.newBuilder().setKey(ByteString.copyFromUtf8(key)).build())
        .getRevision();
  }

  private static WatchRequest.Builder prefix(String prefix) {
    return WatchRequest.newBuilder().setPrefix(ByteString.copyFromUtf8(prefix));
  }

  private static String describe(Event event) {
    return event.getKind()
        + " "
        + event.getKey().toStringUtf8()
        + "="
        + event.getValue().toStringUtf8()
        + "@"
        + event.getRevision()
        + (event.getPrevFound() ? " prev=" + event.getPrevValue().toStringUtf8() : "");
  }

  /** Events sorted by partition then revision: the order a stream guarantees within each. */
  private static List<String> perPartition(List<Event> events) {
    List<Event> sorted = new ArrayList<>(events);
    sorted.sort(
        Comparator.comparingInt(Event::getPartition)
            .thenComparingLong(Event::getRevision)
            .thenComparingInt(Event::getOrdinal));
    assertThat(sorted)
        .as("per partition, events arrive in revision order")
        .isEqualTo(events.stream().sorted(Comparator.comparingInt(Event::getPartition)).toList());
    return sorted.stream().map(WatchSingleNodeTest::describe).toList();
  }

  @Test
  void everyStartModeDeliversEachSelectedChangeOnce() throws Exception {
    cluster = new RealTestCluster(dataDir, HOSTS, 4);
    long a1 = put("a/1", "one");
    long a2 = put("a/2", "two");
    put("b/1", "other");

    WatchProbe now = watch(prefix("a/").setPrevKv(true).build());
    WatchResponse created = now.created();
    assertThat(created.getWatchId()).isPositive();
    assertThat(created.getCursor().getRevisionsMap()).hasSize(4);
    assertThat(created.getEventsCount()).isZero();

    long a3 = put("a/3", "three");
    long a1b = put("a/1", "uno");
    put("b/2", "not selected");
    long d2 = delete("a/2");
    List<Event> live = now.events(3);
    assertThat(perPartition(live))
        .containsExactlyInAnyOrder(
            "PUT a/3=three@" + a3,
            "PUT a/1=uno@" + a1b + " prev=one",
            "DELETE a/2=@" + d2 + " prev=two");

    WatchProbe oldest = watch(prefix("a/").setStart(WatchRequest.Start.OLDEST).build());
    oldest.created();
    assertThat(perPartition(oldest.events(5)))
        .containsExactlyInAnyOrder(
            "PUT a/1=one@" + a1,
            "PUT a/2=two@" + a2,
            "PUT a/3=three@" + a3,
            "PUT a/1=uno@" + a1b,
            "DELETE a/2=@" + d2);

    WatchProbe resumed =
        watch(
            prefix("a/")
                .setCursor(
                    WatchCursor.newBuilder().putAllRevisions(created.getCursor().getRevisionsMap()))
                .build());
    resumed.created();
    assertThat(perPartition(resumed.events(3)))
        .containsExactlyInAnyOrder(
            "PUT a/3=three@" + a3, "PUT a/1=uno@" + a1b, "DELETE a/2=@" + d2);

    WatchProbe key =
        watch(
            WatchRequest.newBuilder()
                .setKey(ByteString.copyFromUtf8("a/1"))
                .setStart(WatchRequest.Start.OLDEST)
                .build());
    assertThat(key.created().getCursor().getRevisionsMap()).hasSize(1);
    List<Event> keyEvents = key.events(2);
    assertThat(keyEvents.stream().map(WatchSingleNodeTest::describe))
        .containsExactly("PUT a/1=one@" + a1, "PUT a/1=uno@" + a1b);
    assertThat(keyEvents.get(1).getCreateRevision()).isEqualTo(a1);
    assertThat(keyEvents.get(1).getVersion()).isEqualTo(2);

    // Nothing more arrives on the NOW stream but progress: no duplicates after a new write.
    long a4 = put("a/4", "four");
    List<Event> after = now.events(1);
    assertThat(after.stream().map(WatchSingleNodeTest::describe))
        .containsExactly("PUT a/4=four@" + a4);
  }

  @Test
  void idleStreamsGetProgressUpToTheAppliedIndex() throws Exception {
    cluster = new RealTestCluster(dataDir, HOSTS, 4);
    WatchProbe ticking = watch(prefix("z/").setProgressIntervalMillis(100).build());
    ticking.created();
    long revision = put("a/unselected", "x");
    int partition = cluster.layout.partitionOfKey("a/unselected".getBytes());
    List<Event> none = ticking.eventsUntil(r -> r.getResolvedOrDefault(partition, 0) >= revision);
    assertThat(none).isEmpty();
    WatchResponse last = ticking.responses().getLast();
    assertThat(last.getCursor().getRevisionsMap().get(partition)).isGreaterThanOrEqualTo(revision);

    WatchProbe asked = watch(prefix("z/").setProgressIntervalMillis(3_600_000).build());
    long id = asked.created().getWatchId();
    put("a/again", "y");
    WatchGrpc.newBlockingStub(cluster.channels[0])
        .withDeadlineAfter(10, TimeUnit.SECONDS)
        .requestProgress(ProgressRequest.newBuilder().setWatchId(id).build());
    WatchResponse progress = asked.next();
    assertThat(progress).isNotNull();
    assertThat(progress.getEventsCount()).isZero();
    assertThat(progress.getResolvedMap()).hasSize(4);
  }

  @Test
  void watchesMaxRefusesOneStreamTooMany() throws Exception {
    cluster = new RealTestCluster(dataDir, HOSTS, 4, "--watches-max", "2");
    WatchProbe first = watch(prefix("a/").build());
    first.created();
    watch(prefix("b/").build()).created();
    WatchProbe third = watch(prefix("c/").build());
    Throwable refused = third.awaitEnd();
    assertThat(Status.fromThrowable(refused).getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    ErrorDetail detail = KvErrors.detailOf(refused);
    assertThat(detail.getReason()).isEqualTo(ErrorDetail.Reason.LIMIT_EXCEEDED);
    assertThat(detail.getLimitName()).isEqualTo("watches-max");
    assertThat(detail.getLimitValue()).isEqualTo(2);

    first.close();
    LocalTestCluster.awaitTrue(
        "a closed stream frees its place",
        30,
        () -> {
          WatchProbe again = watch(prefix("d/").build());
          try {
            return again.next() != null;
          } catch (InterruptedException e) {
            throw new IllegalStateException(e);
          }
        });

    WatchProbe malformed = watch(WatchRequest.getDefaultInstance());
    assertThat(Status.fromThrowable(malformed.awaitEnd()).getCode())
        .isEqualTo(Status.Code.INVALID_ARGUMENT);
  }

  @Test
  void hlcStampsIncreaseStrictlyWithinAMillisecond() throws Exception {
    cluster = new RealTestCluster(dataDir, HOSTS, 1);
    KVGrpc.KVStub async = KVGrpc.newStub(cluster.channels[0]);
    int writes = 300;
    java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(writes);
    for (int i = 0; i < writes; i++) {
      async
          .withDeadlineAfter(30, TimeUnit.SECONDS)
          .put(
              PutRequest.newBuilder()
                  .setKey(ByteString.copyFromUtf8("h/" + i))
                  .setValue(ByteString.copyFromUtf8("v"))
                  .build(),
              new io.grpc.stub.StreamObserver<>() {
                @Override
                public void onNext(io.ringkv.proto.v1.PutResponse value) {}

                @Override
                public void onError(Throwable t) {
                  done.countDown();
                }

                @Override
                public void onCompleted() {
                  done.countDown();
                }
              });
    }
    assertThat(done.await(60, TimeUnit.SECONDS)).isTrue();
    WatchProbe oldest = watch(prefix("h/").setStart(WatchRequest.Start.OLDEST).build());
    oldest.created();
    List<Event> events = oldest.events(writes);
    int sameMillisecond = 0;
    for (int i = 1; i < events.size(); i++) {
      Event before = events.get(i - 1);
      Event after = events.get(i);
      assertThat(after.getRevision()).isGreaterThan(before.getRevision());
      boolean later =
          after.getHlcPhysicalMillis() > before.getHlcPhysicalMillis()
              || (after.getHlcPhysicalMillis() == before.getHlcPhysicalMillis()
                  && after.getHlcLogical() > before.getHlcLogical());
      assertThat(later).as("stamp of %s after %s", after, before).isTrue();
      if (after.getHlcPhysicalMillis() == before.getHlcPhysicalMillis()) {
        sameMillisecond++;
      }
    }
    System.out.println("writes sharing a millisecond with the one before: " + sameMillisecond);
    assertThat(sameMillisecond).as("the load put several writes in one millisecond").isPositive();
  }

  @Test
  void aCompactedCursorFailsOrContinuesFromASnapshot() throws Exception {
    cluster =
        new RealTestCluster(
            dataDir,
            HOSTS,
            1,
            "--changefeed-retention-age-millis",
            "300",
            "--changefeed-retention-check-interval-millis",
            "20");
    long first = put("c/1", "old");
    put("c/2", "two");
    long old = put("c/1", "new");
    LocalTestCluster.awaitTrue(
        "retention dropped the first writes",
        30,
        () -> cluster.nodes[0].storageEngine().changefeed(0).oldestRetainedRevision() > old);
    WatchCursor stale = WatchCursor.newBuilder().putRevisions(0, first).build();

    WatchProbe failing = watch(prefix("c/").setCursor(stale).build());
    Throwable error = failing.awaitEnd();
    assertThat(Status.fromThrowable(error).getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    ErrorDetail detail = KvErrors.detailOf(error);
    assertThat(detail.getReason()).isEqualTo(ErrorDetail.Reason.COMPACTED);
    assertThat(detail.getPartition()).isZero();
    assertThat(detail.getOldestRetainedRevision()).isGreaterThan(old);
    WatchResponse last = failing.responses().getLast();
    assertThat(last.getCompacted()).isEqualTo(detail);
    assertThat(last.getOldestRetainedMap()).containsEntry(0, detail.getOldestRetainedRevision());

    WatchProbe continuing =
        watch(
            prefix("c/")
                .setCursor(stale)
                .setOnCompacted(io.ringkv.proto.v1.OnCompacted.Action.SNAPSHOT)
                .build());
    continuing.created();
    List<Event> snapshot = continuing.eventsUntil(r -> r.getSnapshotInProgressCount() == 0);
    assertThat(snapshot.stream().map(WatchSingleNodeTest::describe))
        .containsExactly("PUT c/1=new@" + old, "PUT c/2=two@" + (first + 1));
    assertThat(snapshot).allMatch(Event::getFromSnapshot);
    assertThat(continuing.responses()).anyMatch(r -> r.getOldestRetainedMap().containsKey(0));
    long tail = put("c/3", "three");
    assertThat(continuing.events(1).stream().map(WatchSingleNodeTest::describe))
        .containsExactly("PUT c/3=three@" + tail);
  }

  @Test
  void aConsumerThatDoesNotReadHoldsNoMoreThanItsBuffer() throws Exception {
    long bufferMax = 64 * 1024;
    cluster =
        new RealTestCluster(
            dataDir, HOSTS, 2, "--watch-buffer-bytes-max", Long.toString(bufferMax));
    WatchProbe slow = WatchProbe.openManual(cluster.channels[0], prefix("s/").build());
    probes.add(slow);
    slow.created();
    io.micrometer.core.instrument.Gauge buffered =
        cluster.nodes[0].registry().find("ringkv.watch.buffered.bytes").gauge();
    byte[] value = new byte[8 * 1024];
    int writes = 500; // 4 MB: far beyond the client's flow-control window and the buffer
    List<Long> revisions = new ArrayList<>();
    double bufferedMax = 0;
    for (int i = 0; i < writes; i++) {
      value[0] = (byte) i;
      revisions.add(
          cluster
              .kv[0]
              .withDeadlineAfter(10, TimeUnit.SECONDS)
              .put(
                  PutRequest.newBuilder()
                      .setKey(ByteString.copyFromUtf8("s/" + i))
                      .setValue(ByteString.copyFrom(value))
                      .build())
              .getRevision());
      bufferedMax = Math.max(bufferedMax, buffered.value());
    }
    System.out.println("largest bytes buffered for the slow consumer: " + bufferedMax);
    assertThat(bufferedMax).as("the consumer's back-pressure reached the node").isPositive();
    // One response of at most the buffer bound, plus one event's overrun (a revision is whole).
    assertThat(bufferedMax).isLessThanOrEqualTo(bufferMax + value.length + 1024);
    slow.request(Integer.MAX_VALUE);
    List<Event> events = slow.events(writes);
    assertThat(events).hasSize(writes);
    assertThat(events.stream().map(e -> e.getKey().toStringUtf8()).distinct().count())
        .isEqualTo(writes);
    assertThat(events.stream().map(Event::getRevision).sorted().toList())
        .isEqualTo(revisions.stream().sorted().toList());
    LocalTestCluster.awaitTrue(
        "nothing stays buffered once the consumer read", 30, () -> buffered.value() == 0);
  }

  /**
   * Regression: a response whose event budget was used up by records the selector filtered out was
   * taken for "caught up", and the stream waited for the next write or progress tick.
   */
  /**
   * One transaction whose events with their previous values are larger than a default gRPC client
   * accepts in one message (4 MiB) must still reach the consumer: the node splits that revision
   * over several responses, and the cursor passes the revision only with its last event.
   */
  @Test
  void aRevisionLargerThanOneResponseArrivesInPartsAndTheCursorWaitsForItsEnd() throws Exception {
    cluster = new RealTestCluster(dataDir, HOSTS, 1);
    String value = "v".repeat(1024 * 1024 - 64);
    List<String> keys = List.of("big/{t}/1", "big/{t}/2", "big/{t}/3");
    for (String key : keys) {
      put(key, "a" + value);
    }
    io.ringkv.proto.v1.TxnRequest.Builder txn = io.ringkv.proto.v1.TxnRequest.newBuilder();
    for (String key : keys) {
      txn.addSuccess(
          io.ringkv.proto.v1.RequestOp.newBuilder()
              .setPut(
                  PutRequest.newBuilder()
                      .setKey(ByteString.copyFromUtf8(key))
                      .setValue(ByteString.copyFromUtf8("b" + value))));
    }
    long revision =
        cluster.kv[0].withDeadlineAfter(30, TimeUnit.SECONDS).txn(txn.build()).getRevision();
    long after = put("big/{t}/after", "small");
    WatchProbe probe =
        watch(
            prefix("big/")
                .setStart(WatchRequest.Start.OLDEST)
                .setPrevKv(true)
                .setProgressIntervalMillis(3_600_000)
                .build());
    probe.created();
    List<Event> events = new ArrayList<>();
    List<Long> cursorsMidRevision = new ArrayList<>();
    while (events.size() < 7) {
      WatchResponse response = probe.next();
      assertThat(response)
          .as(
              "the stream must go on past the large revision; it ended with %s",
              probe.statusError())
          .isNotNull();
      events.addAll(response.getEventsList());
      long txnEvents = events.stream().filter(e -> e.getRevision() == revision).count();
      if (txnEvents > 0 && txnEvents < keys.size()) {
        cursorsMidRevision.add(
            response.getCursor().getRevisionsOrDefault(events.get(0).getPartition(), 0));
      }
    }
    assertThat(
            events.stream()
                .map(e -> e.getKey().toStringUtf8() + "@" + e.getRevision() + "/" + e.getOrdinal()))
        .containsExactly(
            "big/{t}/1@" + (revision - 3) + "/0",
            "big/{t}/2@" + (revision - 2) + "/0",
            "big/{t}/3@" + (revision - 1) + "/0",
            "big/{t}/1@" + revision + "/0",
            "big/{t}/2@" + revision + "/1",
            "big/{t}/3@" + revision + "/2",
            "big/{t}/after@" + after + "/0");
    assertThat(events.subList(3, 6)).allSatisfy(e -> assertThat(e.getPrevFound()).isTrue());
    assertThat(cursorsMidRevision)
        .as("a response that ends inside the revision leaves the cursor before it")
        .isNotEmpty()
        .allSatisfy(c -> assertThat(c).isLessThan(revision));
  }

  @Test
  void aBacklogOfUnselectedChangesDoesNotStallTheStream() throws Exception {
    cluster = new RealTestCluster(dataDir, HOSTS, 1, "--watch-response-events-max", "10");
    for (int i = 0; i < 50; i++) {
      put("y/" + i, "unselected");
    }
    long selected = put("x/1", "selected");
    WatchProbe probe =
        watch(
            prefix("x/")
                .setCursor(WatchCursor.newBuilder().putRevisions(0, 0))
                .setProgressIntervalMillis(3_600_000)
                .build());
    probe.created();
    assertThat(probe.events(1).stream().map(WatchSingleNodeTest::describe))
        .containsExactly("PUT x/1=selected@" + selected);
  }

  @Test
  void theTestOnlyDropSwitchDropsEveryNthEventAndCountsIt() throws Exception {
    cluster =
        new RealTestCluster(
            dataDir, HOSTS, 1, "--allow-unsafe-debug", "true", "--debug-watch-drop-one-in", "3");
    for (int i = 0; i < 9; i++) {
      put("d/" + i, "v");
    }
    long last = put("e/", "end");
    WatchProbe probe =
        watch(WatchRequest.newBuilder().setAll(true).setStart(WatchRequest.Start.OLDEST).build());
    probe.created();
    List<Event> events = probe.eventsUntil(r -> r.getCursor().getRevisionsOrDefault(0, 0) >= last);
    assertThat(events).hasSize(7); // 10 changes, every third dropped
    assertThat(
            cluster.nodes[0].registry().find("ringkv.watch.debug.dropped.events").counter().count())
        .isEqualTo(3);
  }
}
