package io.ringkv.server;

import static io.ringkv.server.SingleNodeKvTest.bytes;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.ringkv.proto.v1.ClusterGrpc;
import io.ringkv.proto.v1.GetRequest;
import io.ringkv.proto.v1.GetResponse;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.proto.v1.PartitionInfo;
import io.ringkv.proto.v1.PartitionsRequest;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.proto.v1.ReadConsistency;
import io.ringkv.server.config.ConfigLoader;
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
 * Three real nodes on 127.0.0.161-163 (in-process, real sockets and RocksDB) with a small peer
 * frame limit (128 KiB) and a tiny log compaction threshold. Proves: a follower that was down while
 * the leader wrote about 3.6 MB (incompressible values) and compacted its log catches up by ONE
 * partition snapshot many times larger than the frame limit, streamed in chunks (the bytes it
 * received are counted), and afterwards serves every acknowledged write, byte for byte, from its
 * own replica. The values come from a seeded random source (seed printed; -Dseed replays it).
 */
class LargeSnapshotCatchUpTest {
  private static final String[] HOSTS = {"127.0.0.161", "127.0.0.162", "127.0.0.163"};
  private static final int FRAME_SIZE_BYTES_MAX = 128 * 1024;
  private static final int VALUE_SIZE_BYTES = 12 * 1024;
  private static final int KEY_COUNT = 300;
  private static final long WAIT_SECONDS = 60;

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
  void laggingFollowerCatchesUpByASnapshotManyFramesLarge() throws Exception {
    long seed = Long.getLong("seed", System.nanoTime());
    System.out.println(
        "LargeSnapshotCatchUpTest seed " + seed + " (replay with -Dseed=" + seed + ")");
    SplittableRandom random = new SplittableRandom(seed);
    startCluster();
    awaitTrue("partition 0 has a leader", () -> leader(0) != 0);
    int victim = (int) (leader(0) % 3); // a follower: the node after the leader
    List<Integer> survivors = new ArrayList<>(List.of(0, 1, 2));
    survivors.remove(Integer.valueOf(victim));
    nodes[victim].close();
    nodes[victim] = null;

    Map<String, ByteString> acknowledged = new TreeMap<>();
    for (int i = 0; i < KEY_COUNT; i++) {
      byte[] value = new byte[VALUE_SIZE_BYTES];
      random.nextBytes(value);
      String key = "big-" + i;
      put(survivors, key, ByteString.copyFrom(value));
      acknowledged.put(key, ByteString.copyFrom(value));
    }
    long target = commitIndex(survivors);

    nodes[victim] = RingkvNode.start(ConfigLoader.load(flags[victim]));
    connect(victim);
    awaitTrue("restarted node applies index " + target, () -> applied(victim) >= target);

    RingkvNode restarted = nodes[victim];
    double received =
        restarted.registry().get("ringkv.snapshot.bytes").tag("direction", "in").counter().count();
    System.out.println("snapshot bytes received by node " + (victim + 1) + ": " + received);
    assertThat(restarted.registry().get("ringkv.raft.snapshots.installed").counter().count())
        .isGreaterThan(0);
    assertThat(received).isGreaterThan(4.0 * FRAME_SIZE_BYTES_MAX);
    for (Map.Entry<String, ByteString> entry : acknowledged.entrySet()) {
      GetResponse response =
          kv[victim]
              .withDeadlineAfter(10, TimeUnit.SECONDS)
              .get(
                  GetRequest.newBuilder()
                      .setKey(bytes(entry.getKey()))
                      .setConsistency(ReadConsistency.SERIALIZABLE)
                      .build());
      assertThat(response.getFound()).as(entry.getKey()).isTrue();
      assertThat(response.getValue()).as(entry.getKey()).isEqualTo(entry.getValue());
    }
  }

  private void put(List<Integer> via, String key, ByteString value) throws Exception {
    PutRequest request = PutRequest.newBuilder().setKey(bytes(key)).setValue(value).build();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
    for (int attempt = 0; ; attempt++) {
      int node = via.get(attempt % via.size());
      try {
        kv[node].withDeadlineAfter(5, TimeUnit.SECONDS).put(request);
        return;
      } catch (StatusRuntimeException e) {
        // A Put without a session is not idempotent, but a retried blind write of the same value
        // leaves the same final state, which is all this test checks.
        Status.Code code = e.getStatus().getCode();
        boolean retryable =
            code == Status.Code.UNAVAILABLE || code == Status.Code.DEADLINE_EXCEEDED;
        if (!retryable || System.nanoTime() > deadline) {
          throw e;
        }
      }
    }
  }

  private PartitionInfo info(int node) {
    return cluster[node]
        .partitions(PartitionsRequest.newBuilder().addPartitions(0).build())
        .getPartitions(0);
  }

  private long leader(int askNode) {
    return info(askNode).getLeaderNodeId();
  }

  private long applied(int node) {
    return info(node).getAppliedIndex();
  }

  private long commitIndex(List<Integer> survivors) throws Exception {
    long[] leader = {0};
    awaitTrue(
        "a leader among the survivors",
        () -> {
          leader[0] = leader(survivors.get(0));
          return leader[0] != 0 && survivors.contains((int) leader[0] - 1);
        });
    return info((int) leader[0] - 1).getCommitIndex();
  }

  private static void awaitTrue(String what, BooleanSupplier condition) throws Exception {
    LocalTestCluster.awaitTrue(what, WAIT_SECONDS, condition);
  }

  private void startCluster() throws Exception {
    String[][] all =
        LocalTestCluster.flags(
            dataDir,
            HOSTS,
            "large-snapshot",
            "--partitions",
            "1",
            "--raft-tick-millis",
            "30",
            "--log-compaction-entries",
            "16",
            "--key-size-bytes-max",
            "1024",
            "--value-size-bytes-max",
            Integer.toString(16 * 1024),
            "--request-size-bytes-max",
            Integer.toString(32 * 1024),
            "--peer-frame-size-bytes-max",
            Integer.toString(FRAME_SIZE_BYTES_MAX));
    System.arraycopy(all, 0, flags, 0, 3);
    for (int i = 0; i < 3; i++) {
      nodes[i] = RingkvNode.start(ConfigLoader.load(flags[i]));
      connect(i);
    }
  }

  private void connect(int i) {
    ManagedChannel channel = LocalTestCluster.channel(nodes[i], toClose);
    kv[i] = KVGrpc.newBlockingStub(channel);
    cluster[i] = ClusterGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
  }
}
