package io.ringkv.server;

import static io.ringkv.server.SingleNodeKvTest.bytes;
import static org.assertj.core.api.Assertions.assertThat;

import io.ringkv.proto.v1.ClusterGrpc;
import io.ringkv.proto.v1.GetRequest;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.proto.v1.PartitionInfo;
import io.ringkv.proto.v1.PartitionsRequest;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.proto.v1.ReadConsistency;
import io.ringkv.proto.v1.RequestOp;
import io.ringkv.proto.v1.TxnRequest;
import io.ringkv.server.config.ConfigLoader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three real nodes on 127.0.0.173-175, one partition, log compaction far away. Proves that a
 * follower catching up from the log, whose catch-up Readies commit more writes than one store batch
 * may hold (400 Txns of 100 small puts; a Ready carries hundreds of them, against 10,000 records
 * per batch), applies them all in several batches, keeps its replica running, and serves the last
 * write; no replica on any node stops. (12,000 single puts arrived here in catch-up Readies of at
 * most about 9,900 entries, one append message each, so the test packs the writes into Txns.)
 */
class CatchUpApplyTest {
  private static final String[] HOSTS = {"127.0.0.173", "127.0.0.174", "127.0.0.175"};
  private static final int TXNS = 400;
  private static final int PUTS_PER_TXN = 100;
  private static final int PUTS = TXNS * PUTS_PER_TXN;
  private static final long WAIT_SECONDS = 60;

  @TempDir Path dataDir;
  private final List<AutoCloseable> toClose = new ArrayList<>();
  private final RingkvNode[] nodes = new RingkvNode[3];

  @AfterEach
  void closeAll() throws Exception {
    LocalTestCluster.closeAll(toClose, nodes);
  }

  @Test
  void followerCatchingUpAppliesMoreEntriesThanOneStoreBatch() throws Exception {
    String[][] flags =
        LocalTestCluster.flags(
            dataDir,
            HOSTS,
            "catchup",
            "--partitions",
            "1",
            "--raft-tick-millis",
            "30",
            "--log-compaction-entries",
            "1000000",
            "--leader-balance-interval-millis",
            "0");
    ClusterGrpc.ClusterBlockingStub[] cluster = new ClusterGrpc.ClusterBlockingStub[3];
    io.grpc.ManagedChannel[] channels = new io.grpc.ManagedChannel[3];
    for (int i = 0; i < 3; i++) {
      start(flags, i, cluster, channels);
    }
    long[] leader = {0};
    LocalTestCluster.awaitTrue(
        "a leader", WAIT_SECONDS, () -> (leader[0] = partition(cluster[0]).getLeaderNodeId()) != 0);
    int writer = (int) leader[0] - 1;
    int follower = (writer + 1) % 3;
    nodes[follower].close();
    nodes[follower] = null;

    // One Txn at a time: the leader applies each alone (100 puts), while the stopped follower gets
    // them in a few catch-up Readies of far more than 10,000 records each.
    KVGrpc.KVBlockingStub writes = KVGrpc.newBlockingStub(channels[writer]);
    for (int txn = 0; txn < TXNS; txn++) {
      TxnRequest.Builder request = TxnRequest.newBuilder();
      for (int op = 0; op < PUTS_PER_TXN; op++) {
        int i = txn * PUTS_PER_TXN + op;
        request.addSuccess(
            RequestOp.newBuilder()
                .setPut(PutRequest.newBuilder().setKey(bytes("k" + i)).setValue(bytes("v" + i))));
      }
      writes.withDeadlineAfter(10, TimeUnit.SECONDS).txn(request.build());
    }
    long commit = partition(cluster[writer]).getCommitIndex();
    assertThat(commit).isGreaterThan(TXNS);

    start(flags, follower, cluster, channels);
    LocalTestCluster.awaitTrue(
        "the restarted follower applies through " + commit,
        WAIT_SECONDS,
        () -> partition(cluster[follower]).getAppliedIndex() >= commit);
    var last =
        KVGrpc.newBlockingStub(channels[follower])
            .withDeadlineAfter(10, TimeUnit.SECONDS)
            .get(
                GetRequest.newBuilder()
                    .setKey(bytes("k" + (PUTS - 1)))
                    .setConsistency(ReadConsistency.SERIALIZABLE)
                    .build());
    assertThat(last.getValue().toStringUtf8()).isEqualTo("v" + (PUTS - 1));
    for (RingkvNode node : nodes) {
      assertThat(node.registry().get("ringkv.driver.replicas.stopped").gauge().value()).isZero();
    }
  }

  private void start(
      String[][] flags,
      int i,
      ClusterGrpc.ClusterBlockingStub[] cluster,
      io.grpc.ManagedChannel[] channels)
      throws Exception {
    nodes[i] = RingkvNode.start(ConfigLoader.load(flags[i]));
    channels[i] = LocalTestCluster.channel(nodes[i], toClose);
    cluster[i] = ClusterGrpc.newBlockingStub(channels[i]);
  }

  private static PartitionInfo partition(ClusterGrpc.ClusterBlockingStub cluster) {
    return cluster
        .withDeadlineAfter(10, TimeUnit.SECONDS)
        .partitions(PartitionsRequest.newBuilder().addPartitions(0).build())
        .getPartitions(0);
  }
}
