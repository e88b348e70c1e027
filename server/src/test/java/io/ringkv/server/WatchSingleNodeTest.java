package io.ringkv.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.ringkv.proto.v1.DeleteRequest;
import io.ringkv.proto.v1.ErrorDetail;
import io.ringkv.proto.v1.Event;
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
}
