package io.ringkv.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.proto.v1.PartitionInfo;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The client against a real three-node cluster started with deploy/local-cluster.sh: requests go
 * straight to partition leaders; the cache follows a leader change; a write whose response is lost
 * is retried and applied once; a scan pages across partitions in key order; a paused (SIGSTOP) node
 * costs no more than the deadline; put/get/cas/txn/delete give their documented results.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class ClusterKvIT {
  static final Path ROOT = Path.of(System.getProperty("ringkv.repo.root", "..")).toAbsolutePath();

  /**
   * Its own cluster beside a developer's (run/, 127.0.0.11-13) and LocalClusterScriptIT's
   * (127.0.0.21-23): run directory under target/ and nodes on 127.0.0.31-33.
   */
  static final Path RUN_DIR = ROOT.resolve("client/target/it-kv-run");

  static final int ADDRESS_BASE = 30;
  static final String[] ENDPOINTS = {"127.0.0.31:7379", "127.0.0.32:7379", "127.0.0.33:7379"};

  static final ScriptCluster CLUSTER = new ScriptCluster(ROOT, RUN_DIR, ADDRESS_BASE, Map.of());

  static void script(String... args) throws Exception {
    CLUSTER.script(args);
  }

  @BeforeAll
  static void startCluster() throws Exception {
    CLUSTER.startFresh(3);
  }

  @AfterAll
  static void stopCluster() throws Exception {
    script("stop");
  }

  static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  /** Records which address each KV call went to (the channel's authority). */
  static final class TargetRecorder implements ClientInterceptor {
    final Map<String, AtomicInteger> putsByAuthority = new ConcurrentHashMap<>();

    @Override
    public <Q, R> ClientCall<Q, R> interceptCall(
        MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
      if (method.equals(KVGrpc.getPutMethod())) {
        putsByAuthority
            .computeIfAbsent(next.authority(), a -> new AtomicInteger())
            .incrementAndGet();
      }
      return next.newCall(method, options);
    }
  }

  /** Lets the first Put reach the node, then replaces its answer with UNAVAILABLE. */
  static final class LoseFirstPutResponse implements ClientInterceptor {
    final AtomicBoolean lost = new AtomicBoolean();

    @Override
    public <Q, R> ClientCall<Q, R> interceptCall(
        MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
      ClientCall<Q, R> call = next.newCall(method, options);
      if (!method.equals(KVGrpc.getPutMethod()) || !lost.compareAndSet(false, true)) {
        return call;
      }
      return new ForwardingClientCall.SimpleForwardingClientCall<>(call) {
        @Override
        public void start(Listener<R> listener, Metadata headers) {
          super.start(
              new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
                @Override
                public void onMessage(R message) {}

                @Override
                public void onClose(Status status, Metadata trailers) {
                  super.onClose(
                      Status.UNAVAILABLE.withDescription("response lost by the test"),
                      new Metadata());
                }
              },
              headers);
        }
      };
    }
  }

  @Test
  void writesGoStraightToPartitionLeaders() throws Exception {
    TargetRecorder recorder = new TargetRecorder();
    try (RingKvClient client =
        RingKvClient.builder().endpoints(ENDPOINTS).interceptor(recorder).build()) {
      client.blocking().put("warm-up", "x");
      // Elections may still be settling (a partition briefly without a leader): wait, bounded,
      // for a map in which every partition these keys use has one.
      PartitionMap map = client.router().refresh().get(10, TimeUnit.SECONDS);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (!leadersKnown(map, 30) && System.nanoTime() < deadline) {
        TimeUnit.MILLISECONDS.sleep(100); // poll interval of the bounded wait
        map = client.router().refresh().get(10, TimeUnit.SECONDS);
      }
      assertThat(leadersKnown(map, 30)).as("every partition of the keys has a leader").isTrue();
      for (int i = 0; i < 30; i++) {
        byte[] key = bytes("leader-" + i);
        // The nodes' leader balancing may move a leader while this runs: a put that did not go
        // (only) to the leader of the client's map counts only if that leader changed meanwhile,
        // and is tried again, at most twice.
        for (int attempt = 1; ; attempt++) {
          String leader = client.router().current().leaderFor(key);
          assertThat(leader).as("leader of partition %d", map.partitionOf(key)).isNotNull();
          Map<String, Integer> before = putsByAuthority(recorder);
          client.blocking().put(key, bytes("v"));
          Map<String, Integer> after = putsByAuthority(recorder);
          int puts = after.values().stream().mapToInt(Integer::intValue).sum();
          puts -= before.values().stream().mapToInt(Integer::intValue).sum();
          if (puts == 1 && after.getOrDefault(leader, 0) == before.getOrDefault(leader, 0) + 1) {
            break;
          }
          String leaderNow = client.router().refresh().get(10, TimeUnit.SECONDS).leaderFor(key);
          assertThat(leaderNow)
              .as(
                  "put of key %d: %d calls (calls by node so far: %s), not one to the leader %s",
                  i, puts, after, leader)
              .isNotEqualTo(leader);
          assertThat(attempt).as("the leader of key %d kept moving", i).isLessThan(3);
        }
      }
    }
  }

  private static Map<String, Integer> putsByAuthority(TargetRecorder recorder) {
    Map<String, Integer> counts = new HashMap<>();
    recorder.putsByAuthority.forEach((authority, puts) -> counts.put(authority, puts.get()));
    return counts;
  }

  private static boolean leadersKnown(PartitionMap map, int keys) {
    for (int i = 0; i < keys; i++) {
      if (map.leaderFor(bytes("leader-" + i)) == null) {
        return false;
      }
    }
    return true;
  }

  @Test
  void aLeaderChangeIsFollowedByARefresh() throws Exception {
    try (RingKvClient client = RingKvClient.builder().endpoints(ENDPOINTS).build()) {
      byte[] key = bytes("moving-leader");
      client.blocking().put(key, bytes("1"));
      PartitionMap map = client.router().refresh().get(10, TimeUnit.SECONDS);
      int partition = map.partitionOf(key);
      PartitionInfo info = map.partition(partition);
      long target =
          info.getReplicasList().stream()
              .filter(node -> node != info.getLeaderNodeId())
              .findFirst()
              .orElseThrow();
      BlockingRingKvClient.await(client.cluster().transferLeader(partition, target));
      // The cached leader is now stale: the next write still succeeds (forwarded, or redirected by
      // NOT_LEADER), and the cache learns the new leader from the answer.
      client.blocking().put(key, bytes("2"));
      assertThat(client.blocking().get(key)).get().extracting(Entry::valueUtf8).isEqualTo("2");
      assertThat(client.router().current().partition(partition).getLeaderNodeId())
          .isEqualTo(target);
    }
  }

  @Test
  void directCallbacksCompleteOnTheTransportThreadWithTheSameResults() throws Exception {
    try (RingKvClient client =
        RingKvClient.builder().endpoints(ENDPOINTS).directCallbacks(true).build()) {
      String k = "direct-" + System.nanoTime();
      String[] completedOn = new String[1];
      client
          .put(bytes(k), bytes("v1"))
          .thenAccept(result -> completedOn[0] = Thread.currentThread().getName())
          .get(10, TimeUnit.SECONDS);
      // Not handed to gRPC's default executor first: completed where the response was read.
      assertThat(completedOn[0]).doesNotStartWith("grpc-default-executor");
      BlockingRingKvClient kv = client.blocking();
      assertThat(kv.get(k)).get().extracting(Entry::valueUtf8).isEqualTo("v1");
      assertThat(kv.compareAndSet(bytes(k), bytes("v1"), bytes("v2"))).isTrue();
      assertThat(kv.get(k)).get().extracting(Entry::valueUtf8).isEqualTo("v2");
      assertThat(kv.delete(k).deleted()).isTrue();
      assertThat(kv.get(k)).isEmpty();
    }
  }

  /** ClientOperationsTest's operations against real nodes instead of the in-memory stand-in. */
  @Test
  void readsAndWritesHaveTheirDocumentedResults() {
    try (RingKvClient client = RingKvClient.builder().endpoints(ENDPOINTS).build()) {
      BlockingRingKvClient kv = client.blocking();
      String k = "ops-" + System.nanoTime();
      String fresh = k + "-new";
      assertThat(kv.get(k)).isEmpty();
      PutResult first = kv.put(k, "v1");
      Optional<Entry> read = kv.get(k);
      assertThat(read).get().extracting(Entry::valueUtf8).isEqualTo("v1");
      assertThat(read.get().version()).isEqualTo(1);
      assertThat(read.get().modRevision()).isEqualTo(first.revision());

      assertThat(kv.compareAndSet(bytes(k), bytes("nope"), bytes("v2"))).isFalse();
      assertThat(kv.compareAndSet(bytes(k), bytes("v1"), bytes("v2"))).isTrue();
      assertThat(kv.compareAndSet(bytes(fresh), null, bytes("x"))).isTrue();
      assertThat(kv.compareAndSet(bytes(fresh), null, bytes("y"))).isFalse();

      TxnResult txn =
          kv.commit(
              client
                  .txn()
                  .ifVersionEquals(bytes(k), 2)
                  .thenPut(bytes(k), bytes("v3"))
                  .thenGet(bytes(k)));
      assertThat(txn.succeeded()).isTrue();
      assertThat(((TxnResult.GetResult) txn.results().get(1)).entry())
          .get()
          .extracting(Entry::valueUtf8)
          .isEqualTo("v3");

      assertThat(kv.delete(k).deleted()).isTrue();
      assertThat(kv.delete(k).deleted()).isFalse();
      assertThat(kv.get(k)).isEmpty();
      assertThat(client.sessions().inUseCount()).isZero();
    }
  }

  @Test
  void aWriteWhoseResponseIsLostIsAppliedOnce() {
    LoseFirstPutResponse lose = new LoseFirstPutResponse();
    try (RingKvClient client =
        RingKvClient.builder().endpoints(ENDPOINTS).interceptor(lose).build()) {
      byte[] key = bytes("once-" + System.nanoTime());
      client.blocking().put(key, bytes("v"));
      assertThat(lose.lost).isTrue();
      // Applied twice, the key's version would be 2.
      assertThat(client.blocking().get(key)).get().extracting(Entry::version).isEqualTo(1L);
    }
  }

  @Test
  void aScanPagesAcrossPartitionsInKeyOrder() {
    try (RingKvClient client = RingKvClient.builder().endpoints(ENDPOINTS).build()) {
      List<String> written = new ArrayList<>();
      for (int i = 0; i < 200; i++) {
        String key = String.format("scan/%04d", i);
        client.blocking().put(key, "v" + i);
        written.add(key);
      }
      List<String> scanned =
          client
              .blocking()
              .scan(ScanQuery.prefix(bytes("scan/")).withPageSize(7))
              .map(Entry::keyUtf8)
              .toList();
      assertThat(scanned).containsExactlyElementsOf(written);
      PartitionMap map = client.router().current();
      assertThat(written.stream().map(k -> map.partitionOf(bytes(k))).distinct().count())
          .isGreaterThan(10);
    }
  }

  @Test
  void aPausedLeaderCostsAtMostTheDeadline() throws Exception {
    try (RingKvClient client =
        RingKvClient.builder()
            .endpoints(ENDPOINTS)
            .deadline(Duration.ofSeconds(3))
            .attemptTimeout(Duration.ofMillis(500))
            .build()) {
      byte[] key = bytes("paused");
      client.blocking().put(key, bytes("v"));
      PartitionMap map = client.router().refresh().get(10, TimeUnit.SECONDS);
      String leader = map.leaderFor(key);
      int node =
          Integer.parseInt(leader.substring("127.0.0.".length(), leader.indexOf(':')))
              - ADDRESS_BASE;
      script("pause", Integer.toString(node));
      try {
        long started = System.nanoTime();
        try {
          assertThat(client.blocking().get(key)).isPresent(); // served once a new leader is elected
        } catch (DeadlineExceededException | UnavailableException expected) {
          // also acceptable: no new leader within the deadline
        }
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(5));
        // A write either succeeds (on a new leader) or ends, within its deadline, as an outcome
        // the client cannot know: never as a definite failure.
        started = System.nanoTime();
        try {
          client.blocking().put(key, bytes("during-pause"));
        } catch (OutcomeUnknownException acceptable) {
          // the write may or may not have been applied
        }
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(5));
        assertThatThrownBy(() -> client.withDeadline(Duration.ofMillis(1)).blocking().get(key))
            .isInstanceOf(DeadlineExceededException.class);
      } finally {
        script("resume", Integer.toString(node));
      }
    }
  }
}
