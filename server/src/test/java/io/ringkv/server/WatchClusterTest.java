package io.ringkv.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.ringkv.proto.v1.ClusterGrpc;
import io.ringkv.proto.v1.Event;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.proto.v1.PartitionInfo;
import io.ringkv.proto.v1.PartitionsRequest;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.proto.v1.PutResponse;
import io.ringkv.proto.v1.ReadConsistency;
import io.ringkv.proto.v1.TransferLeaderRequest;
import io.ringkv.proto.v1.WatchCursor;
import io.ringkv.proto.v1.WatchRequest;
import io.ringkv.proto.v1.WatchResponse;
import io.ringkv.routing.PartitionLayout;
import io.ringkv.server.config.ConfigLoader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Watch on three real nodes (127.0.0.132-134, in-process, real sockets and RocksDB), through gRPC
 * only. Proves: a SNAPSHOT start on a follower, with writes racing the scan and a leader transfer
 * in the middle, delivers per partition exactly the latest write of each key up to the scan's
 * revision and then every later acknowledged write once, in revision order (no gap, no duplicate);
 * a linearizable NOW start on a follower that was down while writes were acknowledged starts at or
 * after all of them; a consumer whose node is stopped mid-stream resumes from its last cursor on
 * another node and, over both streams, sees every acknowledged write once and nothing twice.
 * Writers choose nodes and keys from a seeded random source (seed printed).
 */
class WatchClusterTest {
  private static final String[] HOSTS = {"127.0.0.132", "127.0.0.133", "127.0.0.134"};
  private static final long WAIT_SECONDS = 60;
  private static final int PARTITIONS = 2;

  @TempDir Path dataDir;
  private final List<AutoCloseable> toClose = new ArrayList<>();
  private final RingkvNode[] nodes = new RingkvNode[3];
  private final ManagedChannel[] channels = new ManagedChannel[3];
  private final KVGrpc.KVBlockingStub[] kv = new KVGrpc.KVBlockingStub[3];
  private final ClusterGrpc.ClusterBlockingStub[] cluster = new ClusterGrpc.ClusterBlockingStub[3];
  private final PartitionLayout layout = PartitionLayout.of(PARTITIONS);
  private String[][] flags;

  /** One acknowledged write. */
  private record Write(int partition, String key, String value, long revision) {}

  @AfterEach
  void closeAll() throws Exception {
    LocalTestCluster.closeAll(toClose, nodes);
  }

  private void start() throws Exception {
    flags =
        LocalTestCluster.flags(
            dataDir,
            HOSTS,
            "watch-test",
            "--partitions",
            Integer.toString(PARTITIONS),
            "--raft-tick-millis",
            "20",
            "--leader-balance-interval-millis",
            "0");
    for (int i = 0; i < 3; i++) {
      startNode(i);
    }
    awaitLeaders();
  }

  private void startNode(int i) throws Exception {
    nodes[i] = RingkvNode.start(ConfigLoader.load(flags[i]));
    channels[i] = LocalTestCluster.channel(nodes[i], toClose);
    kv[i] = KVGrpc.newBlockingStub(channels[i]);
    cluster[i] = ClusterGrpc.newBlockingStub(channels[i]);
  }

  private List<PartitionInfo> partitions(int node) {
    return cluster[node]
        .withDeadlineAfter(5, TimeUnit.SECONDS)
        .partitions(PartitionsRequest.getDefaultInstance())
        .getPartitionsList();
  }

  private void awaitLeaders() throws Exception {
    LocalTestCluster.awaitTrue(
        "every partition has a leader",
        WAIT_SECONDS,
        () -> partitions(0).stream().allMatch(p -> p.getLeaderNodeId() != 0));
  }

  private long leaderOf(int partition, int askNode) {
    return partitions(askNode).get(partition).getLeaderNodeId();
  }

  private Write put(int node, String key, String value) {
    PutResponse response =
        putWithRetry(
            kv[node],
            PutRequest.newBuilder()
                .setKey(ByteString.copyFromUtf8(key))
                .setValue(ByteString.copyFromUtf8(value))
                .build());
    return new Write(layout.partitionOfKey(key.getBytes()), key, value, response.getRevision());
  }

  private static PutResponse putWithRetry(KVGrpc.KVBlockingStub stub, PutRequest request) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
    while (true) {
      try {
        return stub.withDeadlineAfter(5, TimeUnit.SECONDS).put(request);
      } catch (io.grpc.StatusRuntimeException e) {
        Status.Code code = e.getStatus().getCode();
        if ((code != Status.Code.UNAVAILABLE && code != Status.Code.DEADLINE_EXCEEDED)
            || System.nanoTime() > deadline) {
          throw e;
        }
      }
    }
  }

  private WatchProbe watch(int node, WatchRequest request) {
    WatchProbe probe = WatchProbe.open(channels[node], request);
    toClose.add(probe);
    return probe;
  }

  private static SplittableRandom seeded(String test) {
    long seed = Long.getLong("seed", System.nanoTime());
    System.out.println(test + " seed " + seed + " (replay with -Dseed=" + seed + ")");
    return new SplittableRandom(seed);
  }

  @Test
  void snapshotStartOnAFollowerRacingWritesHasNoGapAndNoDuplicate() throws Exception {
    SplittableRandom random = seeded("snapshotStartOnAFollower");
    start();
    List<Write> acked = new ArrayList<>();
    for (int k = 0; k < 30; k++) {
      acked.add(put(0, "s/" + k, "0-" + k));
    }
    int follower = (int) ((leaderOf(0, 0) % 3)); // node ids are 1..3: id % 3 is another node
    ConcurrentLinkedQueue<Write> racing = new ConcurrentLinkedQueue<>();
    int racingWrites = 300;
    long writerSeed = random.nextLong();
    Thread writer =
        Thread.ofPlatform()
            .start(() -> {
              SplittableRandom writes = new SplittableRandom(writerSeed);
              for (int i = 1; i <= racingWrites; i++) {
                int k = writes.nextInt(30);
                racing.add(put(writes.nextInt(3), "s/" + k, i + "-" + k));
              }
            });
    while (racing.size() < 40) {
      Thread.onSpinWait(); // start the scan while the writes are running
    }
    WatchProbe probe =
        watch(
            follower,
            WatchRequest.newBuilder()
                .setPrefix(ByteString.copyFromUtf8("s/"))
                .setStart(WatchRequest.Start.SNAPSHOT)
                .build());
    probe.created();
    while (racing.size() < 150) {
      Thread.onSpinWait();
    }
    long leader = leaderOf(0, 0);
    long target = leader % 3 + 1;
    cluster[0]
        .withDeadlineAfter(10, TimeUnit.SECONDS)
        .transferLeader(
            TransferLeaderRequest.newBuilder().setPartition(0).setToNodeId(target).build());
    writer.join(TimeUnit.SECONDS.toMillis(WAIT_SECONDS));
    assertThat(writer.isAlive()).isFalse();
    acked.addAll(racing);

    Map<Integer, Long> lastRevision = new HashMap<>();
    acked.forEach(w -> lastRevision.merge(w.partition(), w.revision(), Math::max));
    Map<Integer, Long> scanRevision = new HashMap<>();
    List<Event> events = new ArrayList<>();
    while (!lastRevision.entrySet().stream()
        .allMatch(e -> probe.cursor().getOrDefault(e.getKey(), -1L) >= e.getValue())) {
      WatchResponse response = probe.next();
      assertThat(response).as("stream ended: %s", probe.statusError()).isNotNull();
      for (Map.Entry<Integer, Long> entry : response.getCursor().getRevisionsMap().entrySet()) {
        scanRevision.putIfAbsent(entry.getKey(), entry.getValue());
      }
      events.addAll(response.getEventsList());
    }
    for (int partition = 0; partition < PARTITIONS; partition++) {
      checkSnapshotThenTail(partition, scanRevision.get(partition), acked, events);
    }
  }

  /** The snapshot phase is the state at the scan's revision; the tail is every later write once. */
  private static void checkSnapshotThenTail(
      int partition, long scanRevision, List<Write> acked, List<Event> events) {
    Map<String, Write> stateAtScan = new HashMap<>();
    Set<Long> later = new HashSet<>();
    for (Write write : acked) {
      if (write.partition() != partition) {
        continue;
      }
      if (write.revision() <= scanRevision) {
        stateAtScan.merge(write.key(), write, (a, b) -> a.revision() > b.revision() ? a : b);
      } else {
        later.add(write.revision());
      }
    }
    Map<String, String> snapshot = new HashMap<>();
    List<Long> tail = new ArrayList<>();
    for (Event event : events) {
      if (event.getPartition() != partition) {
        continue;
      }
      if (event.getFromSnapshot()) {
        assertThat(tail).as("snapshot events come before the tail").isEmpty();
        assertThat(event.getRevision()).isLessThanOrEqualTo(scanRevision);
        String previous =
            snapshot.put(
                event.getKey().toStringUtf8(),
                event.getValue().toStringUtf8() + "@" + event.getRevision());
        assertThat(previous).as("key %s twice in the snapshot", event.getKey()).isNull();
      } else {
        assertThat(event.getRevision()).isGreaterThan(scanRevision);
        tail.add(event.getRevision());
      }
    }
    Map<String, String> expected = new HashMap<>();
    stateAtScan.forEach((key, w) -> expected.put(key, w.value() + "@" + w.revision()));
    assertThat(snapshot)
        .as("partition %d at revision %d", partition, scanRevision)
        .isEqualTo(expected);
    assertThat(tail).as("tail of partition %d in order, no duplicate", partition).isSorted();
    assertThat(new HashSet<>(tail)).hasSize(tail.size()).containsAll(later);
  }

  @Test
  void aLinearizableStartOnALaggingFollowerStartsAfterEveryAcknowledgedWrite() throws Exception {
    start();
    nodes[2].close();
    Map<Integer, Long> acknowledged = new HashMap<>();
    for (int i = 0; i < 100; i++) {
      Write write = put(i % 2, "f/" + i, "v" + i);
      acknowledged.merge(write.partition(), write.revision(), Math::max);
    }
    startNode(2);
    WatchProbe probe =
        watch(2, WatchRequest.newBuilder().setPrefix(ByteString.copyFromUtf8("f/")).build());
    Map<Integer, Long> start = probe.created().getCursor().getRevisionsMap();
    for (Map.Entry<Integer, Long> entry : acknowledged.entrySet()) {
      assertThat(start.get(entry.getKey()))
          .as("start of partition %d on the restarted follower", entry.getKey())
          .isGreaterThanOrEqualTo(entry.getValue());
    }
    WatchProbe any =
        watch(
            2,
            WatchRequest.newBuilder()
                .setPrefix(ByteString.copyFromUtf8("f/"))
                .setConsistency(ReadConsistency.SERIALIZABLE)
                .build());
    assertThat(any.created().getCursor().getRevisionsMap()).hasSize(PARTITIONS);
  }

  @Test
  void aConsumerWhoseNodeStopsResumesElsewhereWithNothingLostOrRepeated() throws Exception {
    SplittableRandom random = seeded("aConsumerWhoseNodeStops");
    start();
    WatchRequest request =
        WatchRequest.newBuilder().setPrefix(ByteString.copyFromUtf8("r/")).build();
    WatchProbe first = watch(0, request);
    first.created();
    ConcurrentLinkedQueue<Write> acked = new ConcurrentLinkedQueue<>();
    int writes = 200;
    long writerSeed = random.nextLong();
    Thread writer =
        Thread.ofPlatform()
            .start(() -> {
              SplittableRandom nodesToUse = new SplittableRandom(writerSeed);
              for (int i = 0; i < writes; i++) {
                acked.add(put(1 + nodesToUse.nextInt(2), "r/" + i, "v" + i));
              }
            });
    List<Event> seen = new ArrayList<>();
    while (seen.size() < 60) {
      WatchResponse response = first.next();
      assertThat(response).isNotNull();
      seen.addAll(response.getEventsList());
    }
    nodes[0].close();
    Throwable end = first.awaitEnd();
    assertThat(Status.fromThrowable(end).getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    seen.clear();
    seen.addAll(first.responses().stream().flatMap(r -> r.getEventsList().stream()).toList());
    Map<Integer, Long> cursor = new HashMap<>(first.cursor());
    System.out.println("resuming after " + seen.size() + " events from cursor " + cursor);

    WatchProbe second =
        watch(
            2,
            request.toBuilder()
                .setCursor(WatchCursor.newBuilder().putAllRevisions(cursor))
                .build());
    second.created();
    writer.join(TimeUnit.SECONDS.toMillis(WAIT_SECONDS));
    assertThat(writer.isAlive()).isFalse();
    Set<String> wanted = new HashSet<>();
    acked.forEach(w -> wanted.add(w.key() + "=" + w.value()));
    Set<String> got = new HashSet<>();
    seen.forEach(e -> got.add(e.getKey().toStringUtf8() + "=" + e.getValue().toStringUtf8()));
    while (!got.containsAll(wanted)) {
      WatchResponse response = second.next();
      assertThat(response).as("second stream ended: %s", second.statusError()).isNotNull();
      for (Event event : response.getEventsList()) {
        seen.add(event);
        got.add(event.getKey().toStringUtf8() + "=" + event.getValue().toStringUtf8());
      }
    }
    Set<String> positions = new HashSet<>();
    for (Event event : seen) {
      assertThat(positions.add(event.getPartition() + "/" + event.getRevision()))
          .as("event %s delivered twice", event)
          .isTrue();
    }
  }
}
