package io.ringkv.server;

import static io.ringkv.server.SingleNodeKvTest.bytes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.ringkv.proto.v1.ClusterGrpc;
import io.ringkv.proto.v1.ErrorDetail;
import io.ringkv.proto.v1.GetRequest;
import io.ringkv.proto.v1.GetResponse;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.proto.v1.PartitionInfo;
import io.ringkv.proto.v1.PartitionsRequest;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.proto.v1.PutResponse;
import io.ringkv.proto.v1.ReadConsistency;
import io.ringkv.proto.v1.RequestOp;
import io.ringkv.proto.v1.ScanRequest;
import io.ringkv.proto.v1.TransferLeaderRequest;
import io.ringkv.proto.v1.TxnRequest;
import io.ringkv.proto.v1.WriteSession;
import io.ringkv.routing.PartitionLayout;
import io.ringkv.server.config.ConfigLoader;
import io.ringkv.server.config.NodeConfig;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three real nodes on 127.0.0.101-103 (in-process, real sockets, real RocksDB under a temp dir),
 * driven only through the gRPC stubs. Proves: writes through any node (forwarded to leaders) are
 * readable everywhere; with a partition's leader stopped the cluster keeps serving every partition;
 * the stopped node, restarted, catches up, by snapshot after log compaction (a tiny compaction
 * threshold forces it) and then serves every acknowledged write from its own replica; a write
 * retried through another node with the same session applies once; leader transfer works;
 * cross-partition Txn and garbage sent to a peer port are refused while the nodes stay up; with two
 * nodes gone a write fails UNAVAILABLE within its deadline. The client's node choices come from a
 * seeded random source (seed printed).
 */
class ThreeNodeClusterTest {
  private static final String[] HOSTS = {"127.0.0.101", "127.0.0.102", "127.0.0.103"};
  private static final long WAIT_SECONDS = 30;

  @TempDir Path dataDir;
  private final List<AutoCloseable> toClose = new ArrayList<>();
  private final RingkvNode[] nodes = new RingkvNode[3];
  private final String[][] flags = new String[3][];
  private final KVGrpc.KVBlockingStub[] kv = new KVGrpc.KVBlockingStub[3];
  private final ClusterGrpc.ClusterBlockingStub[] cluster = new ClusterGrpc.ClusterBlockingStub[3];

  @AfterEach
  void closeAll() throws Exception {
    LocalTestCluster.closeAll(toClose, nodes);
  }

  @Test
  void servesThroughLeaderLossAndRestartedNodeCatchesUpBySnapshot() throws Exception {
    long seed = Long.getLong("seed", System.nanoTime());
    System.out.println("ThreeNodeClusterTest seed " + seed + " (replay with -Dseed=" + seed + ")");
    SplittableRandom random = new SplittableRandom(seed);
    startCluster();
    awaitLeaders(List.of(0, 1, 2));

    Map<String, String> acknowledged = new TreeMap<>();
    long sessionId = 1 + random.nextLong(Long.MAX_VALUE - 1);
    long[] sequence = {0};
    for (int i = 0; i < 120; i++) {
      String key = "key-" + i;
      String value = "v1-" + i;
      writeWithRetry(random, List.of(0, 1, 2), key, value, sessionId, ++sequence[0]);
      acknowledged.put(key, value);
    }
    assertAllReadable(acknowledged, List.of(0, 1, 2), ReadConsistency.LINEARIZABLE);

    // Retry through another node with the same session: answered, not applied again.
    PutRequest retry =
        PutRequest.newBuilder()
            .setKey(bytes("key-0"))
            .setValue(bytes("retried"))
            .setSession(WriteSession.newBuilder().setSessionId(sessionId).setSequence(sequence[0]))
            .build();
    PutResponse viaOne = kv[0].put(retry);
    PutResponse viaTwo = kv[1].put(retry);
    assertThat(viaTwo.getRevision()).isEqualTo(viaOne.getRevision());
    String lastKey = "key-119";
    assertThat(get(2, lastKey, ReadConsistency.LINEARIZABLE).getValue().toStringUtf8())
        .isEqualTo(acknowledged.get(lastKey)); // the retried put (seq reused) did not apply

    // Stop the leader of partition 0; every partition keeps serving through the others.
    int victim = (int) leaderOf(0, 1) - 1;
    List<Integer> survivors = new ArrayList<>(List.of(0, 1, 2));
    survivors.remove(Integer.valueOf(victim));
    System.out.println("stopping node " + (victim + 1) + ", leader of partition 0");
    nodes[victim].close();
    nodes[victim] = null;
    for (int i = 0; i < 300; i++) {
      String key = "key-" + (i % 150);
      String value = "v2-" + i;
      writeWithRetry(random, survivors, key, value, sessionId, ++sequence[0]);
      acknowledged.put(key, value);
    }
    assertAllReadable(acknowledged, survivors, ReadConsistency.LINEARIZABLE);

    // Restart it: it catches up (by snapshot: the leaders' logs were compacted meanwhile).
    nodes[victim] = RingkvNode.start(ConfigLoader.load(flags[victim]));
    connect(victim);
    long[] target = new long[8];
    for (int partition = 0; partition < 8; partition++) {
      target[partition] = commitOnLeader(partition, survivors);
    }
    RingkvNode restarted = nodes[victim];
    awaitTrue(
        "restarted node applies everything",
        () -> {
          for (PartitionInfo info :
              cluster[victim]
                  .partitions(PartitionsRequest.getDefaultInstance())
                  .getPartitionsList()) {
            if (info.getAppliedIndex() < target[info.getId()]) {
              return false;
            }
          }
          return true;
        });
    assertThat(restarted.registry().get("ringkv.raft.snapshots.installed").counter().count())
        .isGreaterThan(0);
    assertAllReadable(acknowledged, List.of(victim), ReadConsistency.SERIALIZABLE);
    assertAllReadable(acknowledged, List.of(0, 1, 2), ReadConsistency.LINEARIZABLE);
    assertThat(
            kv[victim]
                .scan(ScanRequest.newBuilder().setPrefix(bytes("key-")).build())
                .getKvsCount())
        .isEqualTo(acknowledged.size());

    // Leader transfer of partition 1 to a chosen voter.
    long from = leaderOf(1, 0);
    long to = from == 1 ? 2 : 1;
    assertThat(
            cluster[0]
                .withDeadlineAfter(10, TimeUnit.SECONDS)
                .transferLeader(
                    TransferLeaderRequest.newBuilder().setPartition(1).setToNodeId(to).build())
                .getLeaderNodeId())
        .isEqualTo(to);

    // Bad input: a cross-partition Txn, and garbage on a peer port; nodes stay up.
    assertThatThrownBy(() -> kv[0].txn(crossPartitionTxn()))
        .satisfies(e ->
            SingleNodeKvTest.assertCode(
                e, Status.Code.INVALID_ARGUMENT, ErrorDetail.Reason.MALFORMED));
    InetSocketAddress peer = nodes[2].peerAddress();
    for (int round = 0; round < 3; round++) {
      try (Socket socket = new Socket(peer.getAddress(), peer.getPort());
          OutputStream out = socket.getOutputStream()) {
        byte[] garbage = new byte[4096];
        random.nextBytes(garbage);
        if (round == 1) {
          garbage[0] = 0; // a plausible small length prefix followed by junk
          garbage[1] = 0;
          garbage[2] = 0;
          garbage[3] = 50;
        }
        out.write(garbage);
        out.flush();
      } catch (java.io.IOException e) {
        // the node may close the connection mid-write: that is a fine answer to garbage
      }
    }
    writeWithRetry(random, List.of(2), "after-garbage", "ok", sessionId, ++sequence[0]);
    assertThat(get(2, "after-garbage", ReadConsistency.LINEARIZABLE).getValue().toStringUtf8())
        .isEqualTo("ok");

    // Without a quorum a write fails UNAVAILABLE within its deadline instead of hanging.
    nodes[0].close();
    nodes[0] = null;
    nodes[1].close();
    nodes[1] = null;
    long started = System.nanoTime();
    assertThatThrownBy(() ->
            kv[2]
                .withDeadlineAfter(3, TimeUnit.SECONDS)
                .put(SingleNodeKvTest.put("no-quorum", "x")))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
    assertThat(System.nanoTime() - started).isLessThan(TimeUnit.SECONDS.toNanos(3));
  }

  private TxnRequest crossPartitionTxn() {
    PartitionLayout layout = PartitionLayout.of(8);
    String first = "txn-a";
    String second = null;
    for (int i = 0; second == null; i++) {
      String candidate = "txn-b" + i;
      if (layout.partitionOfKey(bytes(candidate).toByteArray())
          != layout.partitionOfKey(bytes(first).toByteArray())) {
        second = candidate;
      }
    }
    return TxnRequest.newBuilder()
        .addSuccess(RequestOp.newBuilder().setPut(SingleNodeKvTest.put(first, "1")))
        .addSuccess(RequestOp.newBuilder().setPut(SingleNodeKvTest.put(second, "2")))
        .build();
  }

  /** Writes through a random node, retrying UNAVAILABLE with the same session (exactly once). */
  private void writeWithRetry(
      SplittableRandom random,
      List<Integer> via,
      String key,
      String value,
      long sessionId,
      long sequence) {
    PutRequest request =
        PutRequest.newBuilder()
            .setKey(bytes(key))
            .setValue(bytes(value))
            .setSession(WriteSession.newBuilder().setSessionId(sessionId).setSequence(sequence))
            .build();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
    while (true) {
      int node = via.get(random.nextInt(via.size()));
      try {
        kv[node].withDeadlineAfter(5, TimeUnit.SECONDS).put(request);
        return;
      } catch (StatusRuntimeException e) {
        Status.Code code = e.getStatus().getCode();
        boolean retryable =
            code == Status.Code.UNAVAILABLE || code == Status.Code.DEADLINE_EXCEEDED;
        if (!retryable || System.nanoTime() > deadline) {
          throw e;
        }
      }
    }
  }

  private GetResponse get(int node, String key, ReadConsistency consistency) {
    return kv[node]
        .withDeadlineAfter(10, TimeUnit.SECONDS)
        .get(GetRequest.newBuilder().setKey(bytes(key)).setConsistency(consistency).build());
  }

  private void assertAllReadable(
      Map<String, String> expected, List<Integer> via, ReadConsistency consistency) {
    for (int node : via) {
      for (Map.Entry<String, String> entry : expected.entrySet()) {
        GetResponse response = get(node, entry.getKey(), consistency);
        assertThat(response.getFound()).as("key %s via node %d", entry.getKey(), node + 1).isTrue();
        assertThat(response.getValue().toStringUtf8())
            .as("key %s via node %d", entry.getKey(), node + 1)
            .isEqualTo(entry.getValue());
      }
    }
  }

  private long leaderOf(int partition, int askNode) throws Exception {
    long[] leader = {0};
    awaitTrue(
        "leader of partition " + partition,
        () -> {
          leader[0] =
              cluster[askNode]
                  .partitions(PartitionsRequest.newBuilder().addPartitions(partition).build())
                  .getPartitions(0)
                  .getLeaderNodeId();
          return leader[0] != 0;
        });
    return leader[0];
  }

  private long commitOnLeader(int partition, List<Integer> survivors) throws Exception {
    long leader = leaderOf(partition, survivors.get(0));
    return cluster[(int) leader - 1]
        .partitions(PartitionsRequest.newBuilder().addPartitions(partition).build())
        .getPartitions(0)
        .getCommitIndex();
  }

  private void awaitLeaders(List<Integer> via) throws Exception {
    awaitTrue(
        "every partition has a leader",
        () ->
            cluster[via.get(0)]
                .partitions(PartitionsRequest.getDefaultInstance())
                .getPartitionsList()
                .stream()
                .allMatch(info -> info.getLeaderNodeId() != 0));
  }

  static void awaitTrue(String what, BooleanSupplier condition) throws Exception {
    LocalTestCluster.awaitTrue(what, WAIT_SECONDS, condition);
  }

  @Test
  void leadershipSettlesOnEachPartitionsPreferredReplica() throws Exception {
    startCluster("--leader-balance-interval-millis", "300");
    awaitLeaders(List.of(0, 1, 2));
    // Elections pick leaders at random; balancing moves each partition to its preferred replica.
    awaitTrue(
        "every partition led by its preferred replica",
        () -> {
          for (PartitionInfo info :
              cluster[0].partitions(PartitionsRequest.getDefaultInstance()).getPartitionsList()) {
            long preferred =
                io.ringkv.server.raft.MultiRaftDriver.preferredLeader(
                    (int) info.getId(), info.getReplicasList());
            if (info.getLeaderNodeId() != preferred) {
              return false;
            }
          }
          return true;
        });
    int[] led = new int[3];
    for (PartitionInfo info :
        cluster[1].partitions(PartitionsRequest.getDefaultInstance()).getPartitionsList()) {
      led[(int) info.getLeaderNodeId() - 1]++;
    }
    assertThat(led).as("partitions led per node").containsExactly(3, 3, 2);
  }

  private void startCluster(String... extraFlags) throws Exception {
    String[] base = {
      "--partitions", "8", "--raft-tick-millis", "30", "--log-compaction-entries", "16"
    };
    String[] extra =
        java.util.stream.Stream.concat(
                java.util.Arrays.stream(base), java.util.Arrays.stream(extraFlags))
            .toArray(String[]::new);
    String[][] all = LocalTestCluster.flags(dataDir, HOSTS, "three", extra);
    System.arraycopy(all, 0, flags, 0, 3);
    for (int i = 0; i < 3; i++) {
      NodeConfig config = ConfigLoader.load(flags[i]);
      nodes[i] = RingkvNode.start(config);
      connect(i);
    }
  }

  private void connect(int i) {
    ManagedChannel channel = LocalTestCluster.channel(nodes[i], toClose);
    kv[i] = KVGrpc.newBlockingStub(channel);
    cluster[i] = ClusterGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
  }
}
