package io.ringkv.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.ringkv.proto.v1.ClusterGrpc;
import io.ringkv.proto.v1.GetRequest;
import io.ringkv.proto.v1.GetResponse;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.proto.v1.PartitionInfo;
import io.ringkv.proto.v1.PartitionsRequest;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.proto.v1.ReadConsistency;
import io.ringkv.proto.v1.TransferLeaderRequest;
import io.ringkv.routing.PartitionLayout;
import io.ringkv.server.config.ConfigLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three real nodes on 127.0.0.176-178 (in-process, real sockets and RocksDB), four partitions,
 * leader balancing off. Proves that a snapshot install does not stall the node that receives it: a
 * node that was down while one partition grew by {@link #SNAPSHOT_MEGABYTES_DEFAULT} MB of
 * incompressible values (and compacted its log) is restarted, made leader of every OTHER partition
 * by leader transfer, and only then installs the big partition's snapshot. Each partition's
 * (leader, term), agreed by all three nodes once the restarted node leads the others, must be
 * unchanged on every node after the install finished and the restarted replica serves the data: no
 * election anywhere. Before the installer thread the driver waited for the install, its leaders
 * stopped heartbeating, and their followers elected new leaders.
 *
 * <p>The arrangement is checked, not assumed: if the big install finished before the restarted node
 * led the others (its applied index tells), the test fails saying so (give a bigger snapshot).
 * Small peer frames (chunks of 16 KiB, four in flight) make the snapshot arrive after the
 * transfers. The size is what makes the test able to fail: before the installer thread a 160 MB
 * install held the driver about 0.8 s (elections followed), a 64 MB one under 0.2 s (none). The
 * values come from a seed (printed; -Dseed replays it); -Dinstall.snapshot.megabytes sets the size
 * (the "a few hundred MB" is -Dinstall.snapshot.megabytes=300). Completion is the
 * installed-snapshot counter, since the reported applied index moves when the install is handed
 * out.
 */
class SnapshotInstallKeepsLeadersTest {
  private static final String[] HOSTS = {"127.0.0.176", "127.0.0.177", "127.0.0.178"};
  private static final int PARTITIONS = 4;
  private static final int TICK_MILLIS = 20;
  private static final int LOG_COMPACTION_ENTRIES = 16;
  private static final int FRAME_SIZE_BYTES_MAX = 128 * 1024;
  private static final int REQUEST_SIZE_BYTES_MAX = FRAME_SIZE_BYTES_MAX - 64 * 1024;
  private static final int VALUE_SIZE_BYTES = 12 * 1024;
  private static final int SNAPSHOT_MEGABYTES_DEFAULT = 160;

  /** Eight writers of 12 KiB values: 60 KiB values from eight writers stopped committing here. */
  private static final int WRITER_THREADS = 8;

  private static final int READ_BACK_SAMPLES = 16;
  private static final long WAIT_SECONDS = 60;
  private static final long WRITE_SECONDS_MAX = 120;
  private static final long CALL_SECONDS = 10;

  /** A transfer that cannot finish yet (target still catching up) is asked again after this. */
  private static final long TRANSFER_CALL_MILLIS = 2_000;

  /** Every key of the big partition carries this hash tag, so they all land in one partition. */
  private static final String TAG = "{install}";

  @TempDir Path dataDir;
  private final List<AutoCloseable> toClose = new ArrayList<>();
  private final RingkvNode[] nodes = new RingkvNode[3];
  private final KVGrpc.KVBlockingStub[] kv = new KVGrpc.KVBlockingStub[3];
  private final ClusterGrpc.ClusterBlockingStub[] cluster = new ClusterGrpc.ClusterBlockingStub[3];
  private String[][] flags;

  @AfterEach
  void closeAll() throws Exception {
    LocalTestCluster.closeAll(toClose, nodes);
  }

  @Test
  void installOnAFollowerCausesNoElectionOfThePartitionsItsNodeLeads() throws Exception {
    long seed = Long.getLong("seed", System.nanoTime());
    int megabytes = Integer.getInteger("install.snapshot.megabytes", SNAPSHOT_MEGABYTES_DEFAULT);
    int keyCount = (int) ((long) megabytes * 1024 * 1024 / VALUE_SIZE_BYTES);
    System.out.println(
        "SnapshotInstallKeepsLeadersTest seed "
            + seed
            + ", "
            + keyCount
            + " values of "
            + VALUE_SIZE_BYTES
            + " bytes (replay with -Dseed="
            + seed
            + ")");
    startCluster();
    int big = PartitionLayout.of(PARTITIONS).partitionOfKey(key(0).toByteArray());
    awaitTrue("every partition has a leader on every node", () -> agreedLeaders() != null);
    int writer = (int) leaderSeenBy(0, big) - 1;
    int lagging = (writer + 1) % 3; // a follower of the big partition
    nodes[lagging].close();
    nodes[lagging] = null;

    long target = fill(writer, big, seed, keyCount);

    nodes[lagging] = RingkvNode.start(ConfigLoader.load(flags[lagging]));
    connect(lagging);
    long restarted = System.nanoTime();
    Map<Integer, List<Long>> before = leadAllBut(big, lagging, writer);
    long ledAfterMillis = millisSince(restarted);
    long laggingId = lagging + 1;
    // The leader keeps at most about LOG_COMPACTION_ENTRIES entries, so a replica this far behind
    // can only catch up by a snapshot that holds nearly everything written: still to come.
    assertThat(info(lagging, big).getAppliedIndex())
        .as(
            "applied index of partition %d on node %d when it led the others (%d ms after its"
                + " restart): the big snapshot was already installed, so this run proves nothing;"
                + " raise -Dinstall.snapshot.megabytes",
            big, laggingId, ledAfterMillis)
        .isLessThan(target - 2 * LOG_COMPACTION_ENTRIES);
    double bytesBefore = snapshotBytesIn(lagging);
    long installedBefore = installed(lagging);
    System.out.println(
        "node "
            + laggingId
            + " leads the others "
            + ledAfterMillis
            + " ms after its restart; "
            + "(leader, term) per partition: "
            + before);

    awaitTrue(
        "node " + laggingId + " applies partition " + big + " through " + target,
        () ->
            installed(lagging) > installedBefore && info(lagging, big).getAppliedIndex() >= target);
    System.out.println(
        "snapshot installed and applied through "
            + target
            + " "
            + millisSince(restarted)
            + " ms after the restart; snapshot bytes received before "
            + bytesBefore
            + ", in all "
            + snapshotBytesIn(lagging));
    readBack(lagging, seed, keyCount);

    assertNoElection(before);
  }

  /** Writes the values, returns the big partition's commit index then. */
  private long fill(int writer, int big, long seed, int keyCount) throws Exception {
    long started = System.nanoTime();
    writeValues(writer, seed, keyCount);
    long target = info(writer, big).getCommitIndex();
    System.out.printf(
        "wrote %d values to partition %d in %d ms; commit index %d%n",
        keyCount, big, millisSince(started), target);
    return target;
  }

  /**
   * Moves the leadership of every partition but {@code big} to {@code lagging}, and returns each
   * partition's (leader, term) once all nodes agree on it.
   */
  private Map<Integer, List<Long>> leadAllBut(int big, int lagging, int via) throws Exception {
    long laggingId = lagging + 1;
    for (int partition = 0; partition < PARTITIONS; partition++) {
      if (partition != big) {
        moveLeader(partition, laggingId, via);
      }
    }
    Map<Integer, List<Long>> before = new TreeMap<>();
    awaitTrue(
        "all nodes agree on the leaders, node " + laggingId + " leading all but partition " + big,
        () -> {
          Map<Integer, List<Long>> agreed = agreedLeaders();
          if (agreed == null) {
            return false;
          }
          for (Map.Entry<Integer, List<Long>> entry : agreed.entrySet()) {
            boolean leadsIt = entry.getValue().get(0) == laggingId;
            if (leadsIt != (entry.getKey() != big)) {
              return false;
            }
          }
          before.putAll(agreed);
          return true;
        });
    return before;
  }

  /** Every node still sees {@code before}'s leader and term for every partition; none stopped. */
  private void assertNoElection(Map<Integer, List<Long>> before) {
    Map<Integer, List<Long>> after = new TreeMap<>();
    for (int node = 0; node < 3; node++) {
      for (PartitionInfo info : partitions(node)) {
        List<Long> seen = List.of(info.getLeaderNodeId(), info.getTerm());
        assertThat(seen)
            .as(
                "partition %d as seen by node %d: (leader, term) before the install %s",
                info.getId(), node + 1, before.get(info.getId()))
            .isEqualTo(before.get(info.getId()));
        after.put(info.getId(), seen);
      }
      assertThat(nodes[node].registry().get("ringkv.driver.replicas.stopped").gauge().value())
          .as("replicas stopped on node %d", node + 1)
          .isZero();
    }
    System.out.println("(leader, term) per partition after the install: " + after);
  }

  /**
   * Writes {@code keyCount} values to the big partition through {@code writer} from a few threads,
   * each retrying its write while the partition has no leader, bounded in time.
   */
  private void writeValues(int writer, long seed, int keyCount) throws Exception {
    ExecutorService threads = Executors.newFixedThreadPool(WRITER_THREADS);
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WRITE_SECONDS_MAX);
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < WRITER_THREADS; t++) {
        int first = t;
        done.add(
            threads.submit(() -> {
              for (int i = first; i < keyCount; i += WRITER_THREADS) {
                LocalTestCluster.putRetrying(
                    kv[writer],
                    PutRequest.newBuilder().setKey(key(i)).setValue(value(seed, i)).build(),
                    CALL_SECONDS,
                    deadline);
              }
              return null;
            }));
      }
      for (Future<?> future : done) {
        future.get(WRITE_SECONDS_MAX, TimeUnit.SECONDS);
      }
    } finally {
      threads.shutdownNow();
    }
  }

  /** Reads the first, the last and a seeded sample of values back from {@code node}'s replica. */
  private void readBack(int node, long seed, int keyCount) {
    SplittableRandom sample = new SplittableRandom(seed);
    List<Integer> indexes = new ArrayList<>(List.of(0, keyCount - 1));
    for (int s = 0; s < READ_BACK_SAMPLES; s++) {
      indexes.add(sample.nextInt(keyCount));
    }
    for (int i : indexes) {
      GetResponse response =
          kv[node]
              .withDeadlineAfter(CALL_SECONDS, TimeUnit.SECONDS)
              .get(
                  GetRequest.newBuilder()
                      .setKey(key(i))
                      .setConsistency(ReadConsistency.SERIALIZABLE)
                      .build());
      assertThat(response.getFound()).as("key %d", i).isTrue();
      assertThat(response.getValue()).as("key %d", i).isEqualTo(value(seed, i));
    }
  }

  /**
   * Asks (through {@code via}, which forwards to the leader) for {@code partition}'s leadership to
   * move to {@code target}, until the target reports itself leader.
   */
  private void moveLeader(int partition, long target, int via) throws Exception {
    TransferLeaderRequest request =
        TransferLeaderRequest.newBuilder().setPartition(partition).setToNodeId(target).build();
    awaitTrue(
        "node " + target + " leads partition " + partition,
        () -> {
          if (leaderSeenBy((int) target - 1, partition) == target) {
            return true;
          }
          try {
            cluster[via]
                .withDeadlineAfter(TRANSFER_CALL_MILLIS, TimeUnit.MILLISECONDS)
                .transferLeader(request);
          } catch (StatusRuntimeException e) {
            // The target's replica may not be caught up or connected yet: asked again next round.
          }
          return leaderSeenBy((int) target - 1, partition) == target;
        });
  }

  /**
   * Each partition's (leader, term) when every node reports the same known leader and term for it,
   * otherwise null.
   */
  private Map<Integer, List<Long>> agreedLeaders() {
    Map<Integer, List<Long>> agreed = new TreeMap<>();
    for (int node = 0; node < 3; node++) {
      for (PartitionInfo info : partitions(node)) {
        List<Long> seen = List.of(info.getLeaderNodeId(), info.getTerm());
        if (info.getLeaderNodeId() == 0 || !seen.equals(agreed.getOrDefault(info.getId(), seen))) {
          return null;
        }
        agreed.put(info.getId(), seen);
      }
    }
    return agreed;
  }

  private long installed(int node) {
    return (long) nodes[node].registry().get("ringkv.raft.snapshots.installed").counter().count();
  }

  private double snapshotBytesIn(int node) {
    return nodes[node]
        .registry()
        .get("ringkv.snapshot.bytes")
        .tag("direction", "in")
        .counter()
        .count();
  }

  private List<PartitionInfo> partitions(int node) {
    return cluster[node]
        .withDeadlineAfter(CALL_SECONDS, TimeUnit.SECONDS)
        .partitions(PartitionsRequest.getDefaultInstance())
        .getPartitionsList();
  }

  private PartitionInfo info(int node, int partition) {
    return cluster[node]
        .withDeadlineAfter(CALL_SECONDS, TimeUnit.SECONDS)
        .partitions(PartitionsRequest.newBuilder().addPartitions(partition).build())
        .getPartitions(0);
  }

  private long leaderSeenBy(int node, int partition) {
    return info(node, partition).getLeaderNodeId();
  }

  private static ByteString key(int i) {
    return ByteString.copyFrom((TAG + i).getBytes(StandardCharsets.UTF_8));
  }

  /** Value {@code i}: incompressible bytes, derived from the seed and {@code i} alone. */
  private static ByteString value(long seed, int i) {
    byte[] value = new byte[VALUE_SIZE_BYTES];
    new SplittableRandom(seed * 31 + i).nextBytes(value);
    return ByteString.copyFrom(value);
  }

  private static long millisSince(long nanos) {
    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - nanos);
  }

  private static void awaitTrue(String what, BooleanSupplier condition) throws Exception {
    LocalTestCluster.awaitTrue(what, WAIT_SECONDS, condition);
  }

  private void startCluster() throws Exception {
    flags =
        LocalTestCluster.flags(
            dataDir,
            HOSTS,
            "install-keeps-leaders",
            "--partitions",
            Integer.toString(PARTITIONS),
            "--raft-tick-millis",
            Integer.toString(TICK_MILLIS),
            "--leader-balance-interval-millis",
            "0",
            "--log-compaction-entries",
            Integer.toString(LOG_COMPACTION_ENTRIES),
            "--key-size-bytes-max",
            "1024",
            "--value-size-bytes-max",
            Integer.toString(VALUE_SIZE_BYTES),
            "--request-size-bytes-max",
            Integer.toString(REQUEST_SIZE_BYTES_MAX),
            "--peer-frame-size-bytes-max",
            Integer.toString(FRAME_SIZE_BYTES_MAX));
    for (int i = 0; i < 3; i++) {
      nodes[i] = RingkvNode.start(ConfigLoader.load(flags[i]));
      connect(i);
    }
  }

  private void connect(int i) {
    ManagedChannel channel = LocalTestCluster.channel(nodes[i], toClose);
    kv[i] = KVGrpc.newBlockingStub(channel);
    cluster[i] = ClusterGrpc.newBlockingStub(channel);
  }
}
