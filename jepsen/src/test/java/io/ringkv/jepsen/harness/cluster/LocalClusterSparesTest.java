package io.ringkv.jepsen.harness.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves the cluster's spare nodes and retirement against real processes on 127.0.5.51-54: two
 * nodes start, the spare (node 3 of 2 + 1) does not; {@link LocalCluster#startSpare} starts it with
 * {@code --join} naming the first nodes' client addresses and without {@code --members}, and it
 * answers /health; a spare starts only once; a retired node is dead, leaves the member ids, and
 * refuses a restart; teardown leaves no started pid alive.
 */
class LocalClusterSparesTest {
  @TempDir Path store;

  @Test
  @Timeout(180)
  void sparesStartInJoinModeAndRetiredNodesStayDown() throws Exception {
    ClusterSpec spec =
        new ClusterSpec(
            LocalCluster.findRepositoryRoot(Path.of("")),
            store,
            2,
            50,
            4,
            2,
            "spares-test",
            Duration.ofSeconds(90),
            List.of(),
            1,
            "127.0.5.");
    assertThat(spec.address(3)).isEqualTo("127.0.5.53");
    assertThat(spec.joinFlag()).isEqualTo("127.0.5.51:7379,127.0.5.52:7379");
    List<Long> started;
    try (LocalCluster cluster = LocalCluster.start(spec)) {
      assertThat(cluster.memberIds()).containsExactly(1, 2);
      assertThat(cluster.unusedSpareIds()).containsExactly(3);
      assertThat(cluster.isRunning(3)).isFalse();

      cluster.startSpare(3);
      assertThat(cluster.isHealthy(3)).isTrue();
      List<String> arguments =
          List.of(ProcessHandle.of(cluster.pid(3)).orElseThrow().info().arguments().orElseThrow());
      assertThat(arguments).contains("--join", "127.0.5.51:7379,127.0.5.52:7379");
      assertThat(arguments).doesNotContain("--members");
      assertThat(cluster.memberIds()).containsExactly(1, 2, 3);
      assertThat(cluster.unusedSpareIds()).isEmpty();
      assertThatThrownBy(() -> cluster.startSpare(3)).hasMessageContaining("not an unused spare");

      long retiredPid = cluster.pid(2);
      cluster.retire(2);
      assertThat(ProcessHandle.of(retiredPid).map(ProcessHandle::isAlive).orElse(false)).isFalse();
      assertThat(cluster.isRetired(2)).isTrue();
      assertThat(cluster.memberIds()).containsExactly(1, 3);
      assertThatThrownBy(() -> cluster.restart(2)).hasMessageContaining("retired");
      started = cluster.startedPids();
    }
    for (long pid : started) {
      assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false))
          .as("pid %d after teardown", pid)
          .isFalse();
    }
  }
}
