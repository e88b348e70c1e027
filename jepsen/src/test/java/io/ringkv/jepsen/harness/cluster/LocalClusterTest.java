package io.ringkv.jepsen.harness.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves cluster control against real node processes: three nodes on 127.0.0.41..43 start and
 * answer /health; a SIGKILLed node is gone and restarts on its data with a new pid; a SIGSTOPped
 * node stops answering and answers again after SIGCONT; closing the cluster leaves none of the pids
 * it ever started alive; and a second cluster on the same addresses is refused.
 */
class LocalClusterTest {
  private static final int ADDRESS_BASE = 40;

  @TempDir Path store;

  @Test
  @Timeout(120)
  void startsKillsRestartsPausesAndTearsDown() throws Exception {
    ClusterSpec spec =
        new ClusterSpec(
            LocalCluster.findRepositoryRoot(Path.of("")),
            store,
            3,
            ADDRESS_BASE,
            4,
            3,
            "harness-test",
            Duration.ofSeconds(60),
            List.of(),
            0,
            ClusterSpec.ADDRESS_PREFIX_DEFAULT);
    List<Long> started;
    try (LocalCluster cluster = LocalCluster.start(spec)) {
      for (int id = 1; id <= 3; id++) {
        assertThat(cluster.isHealthy(id)).as("node %d healthy", id).isTrue();
        assertThat(cluster.address(id)).isEqualTo("127.0.0." + (ADDRESS_BASE + id));
      }
      assertThatThrownBy(() -> LocalCluster.start(spec)).hasMessageContaining("already in use");

      long killedPid = cluster.pid(2);
      cluster.kill(2);
      assertThat(ProcessHandle.of(killedPid).map(ProcessHandle::isAlive).orElse(false)).isFalse();
      assertThat(cluster.isRunning(2)).isFalse();
      assertThat(cluster.isHealthy(2)).isFalse();
      cluster.restart(2);
      assertThat(cluster.pid(2)).isNotEqualTo(killedPid).isPositive();
      assertThat(cluster.isHealthy(2)).isTrue();
      assertThat(Files.readString(cluster.logFile(2))).contains("starting node 2");

      cluster.pause(3);
      assertThat(cluster.isPaused(3)).isTrue();
      awaitCondition(() -> !healthy(cluster, 3), "paused node stops answering");
      cluster.resume(3);
      cluster.awaitHealthy(3);
      assertThat(cluster.isPaused(3)).isFalse();

      started = cluster.startedPids();
      assertThat(started).hasSize(4).contains(killedPid);
    }
    for (long pid : started) {
      assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false))
          .as("pid %d after teardown", pid)
          .isFalse();
    }
  }

  private static boolean healthy(LocalCluster cluster, int id) {
    try {
      return cluster.isHealthy(id);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private static void awaitCondition(BooleanSupplier condition, String what)
      throws InterruptedException {
    Instant deadline = Instant.now().plusSeconds(10);
    while (!condition.getAsBoolean()) {
      assertThat(Instant.now()).as(what).isBefore(deadline);
      Thread.sleep(50);
    }
  }
}
