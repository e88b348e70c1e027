package io.ringkv.server;

import static io.ringkv.server.BackupRestoreTest.client;
import static io.ringkv.server.BackupRestoreTest.endpoints;
import static io.ringkv.server.BackupRestoreTest.ringctl;
import static org.assertj.core.api.Assertions.assertThat;

import io.ringkv.client.RingKvClient;
import io.ringkv.client.backup.BackupDirectory;
import io.ringkv.proto.v1.BackupManifest;
import io.ringkv.proto.v1.BackupPartitionFile;
import io.ringkv.proto.v1.TransferLeaderRequest;
import io.ringkv.raft.Role;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves that {@code ringctl backup} stays consistent while leadership moves and a node dies under
 * it, on real in-process nodes (127.0.17.11-16). A writer puts unique 2 KiB values into a 3-node,
 * 4-partition cluster (leader balancing off, so only the test moves leaders) and keeps writing
 * throughout. A backup paced to {@link #BACKUP_BYTES_PER_SECOND_MAX} starts; while partition 0 is
 * being exported, leadership of every partition moves to another node (partition 0's export keeps
 * reading its storage snapshot; the later ones are served under the new leaders, which their
 * manifest terms show); while partition {@link #KILLED_DURING_PARTITION} is being exported, the
 * node serving it is crashed (calls cut at once). A partition holds more than the transport's
 * flow-control window, so the crash surely lands before its export was sent: ringctl must report
 * that export failed and start it again on another replica. The backup then either completes or
 * fails with a message and no manifest; when it completes, it restores into a fresh 3-node cluster
 * that holds every write acknowledged before the backup began, with its value, and only values
 * really written. Before that, a restore stopped half way leaves its target holding part of the
 * backup, and a second restore into it is refused; the recovery is a cluster on empty data
 * directories, where the restore then succeeds.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class BackupLeaderChangeTest {
  private static final String[] SOURCE_HOSTS = {"127.0.17.11", "127.0.17.12", "127.0.17.13"};
  private static final String[] TARGET_HOSTS = {"127.0.17.14", "127.0.17.15", "127.0.17.16"};
  private static final int PARTITIONS = 4;

  /** Value size: with the writes below, each partition holds about 2.5 MB. */
  private static final int VALUE_BYTES = 2048;

  /** Writes acknowledged before the backup starts: enough for 2.5 MB per partition. */
  private static final int WRITES_BEFORE_BACKUP_MIN = 5_000;

  private static final long LOAD_SECONDS_MAX = 200;

  /**
   * Backup pace: a partition takes about 2.5 s, so the test sees each export running; gRPC's
   * per-stream flow-control window (1 MiB) is well below a partition, so a node crashed as its
   * export starts has not sent it all.
   */
  private static final long BACKUP_BYTES_PER_SECOND_MAX = 1_000_000;

  private static final int KILLED_DURING_PARTITION = 2;

  /** Bounds every wait; above the 30 s after which ringctl gives up an export that went silent. */
  private static final long WAIT_SECONDS = 120;

  @TempDir Path temp;

  @Test
  void backupSurvivesLeaderTransfersAndACrashedNode() throws Exception {
    long seed = System.nanoTime();
    System.out.println("BackupLeaderChangeTest seed " + seed);
    Path backup = temp.resolve("backup");
    Set<Integer> attempted = ConcurrentHashMap.newKeySet();
    Set<Integer> ackedBeforeBackup;
    BackupRestoreTest.CliResult result;
    Map<Integer, Long> termsBefore = new HashMap<>();
    long crashed;
    try (RealTestCluster source =
            new RealTestCluster(
                temp.resolve("source"),
                SOURCE_HOSTS,
                PARTITIONS,
                "--leader-balance-interval-millis",
                "0");
        RingKvClient client = client(endpoints(source))) {
      Set<Integer> acked = ConcurrentHashMap.newKeySet();
      AtomicBoolean stop = new AtomicBoolean();
      Thread writer =
          Thread.ofPlatform()
              .name("backup-leader-change-writer")
              .start(() ->
                  BackupRestoreTest.writeLoad(
                      client, id -> value(seed, id), stop, attempted, acked));
      LocalTestCluster.awaitTrue(
          "writes before the backup",
          LOAD_SECONDS_MAX,
          () -> acked.size() >= WRITES_BEFORE_BACKUP_MIN);
      ackedBeforeBackup = Set.copyOf(acked);
      String endpoints = endpoints(source);
      AtomicReference<BackupRestoreTest.CliResult> backupResult = new AtomicReference<>();
      Thread backupThread =
          Thread.ofPlatform()
              .name("backup-leader-change-ringctl")
              .start(() ->
                  backupResult.set(
                      ringctl(
                          "--endpoints",
                          endpoints,
                          "backup",
                          "--to",
                          backup.toString(),
                          "--bytes-per-second-max",
                          Long.toString(BACKUP_BYTES_PER_SECOND_MAX))));

      awaitExportRunning(backup, 0);
      for (int partition = 0; partition < PARTITIONS; partition++) {
        termsBefore.put(partition, moveLeadership(source, partition));
      }
      assertThat(Files.exists(backup.resolve("MANIFEST")))
          .as("every leader moved while the backup ran")
          .isFalse();
      System.out.println("terms before the leader transfers: " + termsBefore);

      awaitExportRunning(backup, KILLED_DURING_PARTITION);
      crashed = leaderOf(source, KILLED_DURING_PARTITION);
      assertThat(backupThread.isAlive()).as("the backup runs when the node is crashed").isTrue();
      System.out.printf(
          "crashing node %d while partition %d is exported%n", crashed, KILLED_DURING_PARTITION);
      source.nodes[(int) crashed - 1].crash();

      backupThread.join(TimeUnit.SECONDS.toMillis(WAIT_SECONDS));
      if (backupThread.isAlive()) {
        // Where ringctl waits is the whole story of such a failure: print it.
        StackTraceElement[] stack = backupThread.getStackTrace();
        backupThread.interrupt();
        throw new AssertionError(
            "the backup neither finished nor failed within "
                + WAIT_SECONDS
                + " s after the crash; ringctl waits at:\n  "
                + String.join(
                    "\n  ", java.util.Arrays.stream(stack).map(String::valueOf).toList()));
      }
      stop.set(true);
      writer.join(TimeUnit.SECONDS.toMillis(LOAD_SECONDS_MAX));
      assertThat(writer.isAlive()).as("writer stopped").isFalse();
      result = backupResult.get();
    }

    if (result.exitCode() != 0) {
      // Allowed, but only as a clear failure that leaves nothing restore would take.
      assertThat(result.err()).as("the failure says why").contains("partition");
      assertThat(Files.exists(backup.resolve("MANIFEST"))).as("no manifest").isFalse();
      throw new AssertionError("the backup failed (allowed, but not expected): " + result.err());
    }
    assertThat(result.err())
        .as("the export cut by the crash was started again")
        .contains("partition " + KILLED_DURING_PARTITION + ": export from")
        .contains("starting it again");
    String crashedAddress = SOURCE_HOSTS[(int) crashed - 1] + ":";
    assertThat(result.err().lines().filter(line -> line.contains("from " + crashedAddress)))
        .as("the crashed node was asked once, then live replicas")
        .hasSize(1);
    BackupManifest manifest = BackupDirectory.verify(backup);
    for (BackupPartitionFile file : manifest.getPartitionsList()) {
      if (file.getPartition() >= 1) {
        assertThat(file.getTerm())
            .as(
                "partition %d exported under the leader it had after the transfer",
                file.getPartition())
            .isGreaterThan(termsBefore.get(file.getPartition()));
      }
    }
    assertThat(manifest.getPartitions(KILLED_DURING_PARTITION).getNodeId())
        .as("the cut export was redone on another node")
        .isNotEqualTo(crashed);

    interruptedRestoreIsRefusedAgain(backup);
    // The recovery docs/operations.md gives: the same hosts, started again on empty data
    // directories, then the restore once more.
    try (RealTestCluster target =
            new RealTestCluster(temp.resolve("target-again"), TARGET_HOSTS, PARTITIONS);
        RingKvClient client = client(endpoints(target))) {
      BackupRestoreTest.CliResult restore =
          ringctl("--endpoints", endpoints(target), "restore", "--from", backup.toString());
      assertThat(restore.exitCode()).as(restore.err()).isZero();
      Map<String, String> restored = BackupRestoreTest.allPairs(client);
      BackupRestoreTest.assertRestored(
          restored, ackedBeforeBackup, attempted, write -> value(seed, write));
      System.out.printf(
          "restored %d keys; %d were acknowledged before the backup began%n",
          restored.size(), ackedBeforeBackup.size());
    }
  }

  /**
   * Stops a restore half way (its thread is interrupted, as when ringctl is killed, once the target
   * holds keys): the target then holds part of the backup, and a second restore refuses it.
   */
  private void interruptedRestoreIsRefusedAgain(Path backup) throws Exception {
    try (RealTestCluster target =
            new RealTestCluster(temp.resolve("target"), TARGET_HOSTS, PARTITIONS);
        RingKvClient client = client(endpoints(target))) {
      String endpoints = endpoints(target);
      AtomicReference<BackupRestoreTest.CliResult> first = new AtomicReference<>();
      Thread restore =
          Thread.ofPlatform()
              .name("backup-leader-change-restore")
              .start(() ->
                  first.set(
                      ringctl("--endpoints", endpoints, "restore", "--from", backup.toString())));
      LocalTestCluster.awaitTrue(
          "the restore wrote keys", WAIT_SECONDS, () -> !restore.isAlive() || hasAnyKey(client));
      restore.interrupt();
      restore.join(TimeUnit.SECONDS.toMillis(WAIT_SECONDS));
      assertThat(restore.isAlive()).as("restore stopped").isFalse();
      assertThat(first.get().exitCode()).as("the interrupted restore fails").isEqualTo(2);
      int partial = BackupRestoreTest.allPairs(client).size();
      System.out.printf("the interrupted restore left %d keys%n", partial);
      assertThat(partial).as("the interrupted restore left part of the backup").isPositive();

      BackupRestoreTest.CliResult again =
          ringctl("--endpoints", endpoints, "restore", "--from", backup.toString());
      assertThat(again.exitCode()).isEqualTo(2);
      assertThat(again.err()).contains("not empty").contains("fresh cluster");
    }
  }

  /** Waits until ringctl writes the file of {@code partition} (its export is running). */
  private static void awaitExportRunning(Path backup, int partition) throws Exception {
    Path partial = backup.resolve(String.format("partition-%05d.kvs.partial", partition));
    LocalTestCluster.awaitTrue(
        "the export of partition " + partition + " runs",
        WAIT_SECONDS,
        () -> Files.exists(partial));
  }

  /**
   * Hands leadership of {@code partition} to another of its replicas and waits until that one
   * leads; returns the term before the move.
   */
  private static long moveLeadership(RealTestCluster cluster, int partition) throws Exception {
    long from = leaderOf(cluster, partition);
    long term = cluster.nodes[(int) from - 1].driver().status(partition).term();
    long to = from % cluster.nodes.length + 1;
    AuthClusterTest.retried(() ->
        cluster
            .cluster[(int) from - 1]
            .withDeadlineAfter(10, TimeUnit.SECONDS)
            .transferLeader(
                TransferLeaderRequest.newBuilder()
                    .setPartition(partition)
                    .setToNodeId(to)
                    .build()));
    LocalTestCluster.awaitTrue(
        "node " + to + " leads partition " + partition,
        WAIT_SECONDS,
        () -> leads(cluster, (int) to, partition));
    return term;
  }

  private static long leaderOf(RealTestCluster cluster, int partition) throws Exception {
    long[] leader = new long[1];
    LocalTestCluster.awaitTrue(
        "a leader of partition " + partition,
        WAIT_SECONDS,
        () -> {
          for (int node = 1; node <= cluster.nodes.length; node++) {
            if (leads(cluster, node, partition)) {
              leader[0] = node;
              return true;
            }
          }
          return false;
        });
    return leader[0];
  }

  private static boolean hasAnyKey(RingKvClient client) {
    try (var keys =
        client.blocking().scan(io.ringkv.client.ScanQuery.prefix(new byte[0]).withPageSize(1))) {
      return keys.findAny().isPresent();
    }
  }

  private static boolean leads(RealTestCluster cluster, int node, int partition) {
    var status = cluster.nodes[node - 1].driver().status(partition);
    return status != null && status.role() == Role.LEADER;
  }

  /** Unique, 2 KiB value of one write: the seed and the write's number, padded. */
  static String value(long seed, int write) {
    String head = "v" + write + "-" + seed + "-";
    return head + "x".repeat(VALUE_BYTES - head.length());
  }
}
