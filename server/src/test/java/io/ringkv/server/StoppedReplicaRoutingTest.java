package io.ringkv.server;

import static io.ringkv.server.SingleNodeKvTest.bytes;
import static org.assertj.core.api.Assertions.assertThat;

import io.ringkv.proto.v1.ClusterGrpc;
import io.ringkv.proto.v1.GetRequest;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.proto.v1.PartitionsRequest;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.proto.v1.ReadConsistency;
import io.ringkv.routing.PartitionLayout;
import io.ringkv.server.config.ConfigLoader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three real nodes on 127.0.0.170-172. Proves that a partition replica stopped on a failure while
 * it leads stops advertising itself as leader: its node reports no leadership for it, forwards
 * writes and reads of that partition to the new leader elected by the other two, and a Put through
 * that node succeeds instead of failing UNAVAILABLE.
 */
class StoppedReplicaRoutingTest {
  private static final String[] HOSTS = {"127.0.0.170", "127.0.0.171", "127.0.0.172"};
  private static final int PARTITIONS = 4;
  private static final long WAIT_SECONDS = 30;

  @TempDir Path dataDir;
  private final List<AutoCloseable> toClose = new ArrayList<>();
  private final RingkvNode[] nodes = new RingkvNode[3];

  @AfterEach
  void closeAll() throws Exception {
    LocalTestCluster.closeAll(toClose, nodes);
  }

  @Test
  void stoppedLeaderReplicaForwardsAndIsNotReportedAsLeader() throws Exception {
    String[][] flags =
        LocalTestCluster.flags(
            dataDir,
            HOSTS,
            "stopped",
            "--partitions",
            Integer.toString(PARTITIONS),
            "--raft-tick-millis",
            "30",
            "--leader-balance-interval-millis",
            "0");
    KVGrpc.KVBlockingStub[] kv = new KVGrpc.KVBlockingStub[3];
    ClusterGrpc.ClusterBlockingStub[] cluster = new ClusterGrpc.ClusterBlockingStub[3];
    for (int i = 0; i < 3; i++) {
      nodes[i] = RingkvNode.start(ConfigLoader.load(flags[i]));
      var channel = LocalTestCluster.channel(nodes[i], toClose);
      kv[i] = KVGrpc.newBlockingStub(channel);
      cluster[i] = ClusterGrpc.newBlockingStub(channel);
    }
    int partition = 0;
    long[] leader = {0};
    LocalTestCluster.awaitTrue(
        "a leader of partition 0",
        WAIT_SECONDS,
        () -> (leader[0] = leaderSeenBy(cluster[0], partition)) != 0);
    int victim = (int) leader[0] - 1;
    String key = keyOf(partition);
    kv[victim].withDeadlineAfter(10, TimeUnit.SECONDS).put(put(key, "before"));

    nodes[victim].driver().stopReplica(partition, "test").get(10, TimeUnit.SECONDS);

    LocalTestCluster.awaitTrue(
        "node " + (victim + 1) + " no longer reports itself as leader of partition 0",
        WAIT_SECONDS,
        () -> leaderSeenBy(cluster[victim], partition) != victim + 1);
    int other = (victim + 1) % 3;
    LocalTestCluster.awaitTrue(
        "the other replicas elect a new leader",
        WAIT_SECONDS,
        () -> {
          long now = leaderSeenBy(cluster[other], partition);
          return now != 0 && now != victim + 1;
        });
    // Through the node whose replica stopped: forwarded to the new leader, not refused.
    kv[victim].withDeadlineAfter(10, TimeUnit.SECONDS).put(put(key, "after"));
    var read =
        kv[victim]
            .withDeadlineAfter(10, TimeUnit.SECONDS)
            .get(
                GetRequest.newBuilder()
                    .setKey(bytes(key))
                    .setConsistency(ReadConsistency.LINEARIZABLE)
                    .build());
    assertThat(read.getValue().toStringUtf8()).isEqualTo("after");
    assertThat(nodes[victim].registry().get("ringkv.driver.replicas.stopped").gauge().value())
        .isEqualTo(1.0);
  }

  private static long leaderSeenBy(ClusterGrpc.ClusterBlockingStub cluster, int partition) {
    return cluster
        .withDeadlineAfter(10, TimeUnit.SECONDS)
        .partitions(PartitionsRequest.newBuilder().addPartitions(partition).build())
        .getPartitions(0)
        .getLeaderNodeId();
  }

  static String keyOf(int partition) {
    PartitionLayout layout = PartitionLayout.of(PARTITIONS);
    for (int i = 0; ; i++) {
      String candidate = "key-" + i;
      if (layout.partitionOfKey(bytes(candidate).toByteArray()) == partition) {
        return candidate;
      }
    }
  }

  private static PutRequest put(String key, String value) {
    return PutRequest.newBuilder().setKey(bytes(key)).setValue(bytes(value)).build();
  }
}
