package io.ringkv.jepsen.harness.nemesis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.ringkv.jepsen.harness.cluster.ClusterSpec;
import io.ringkv.jepsen.harness.cluster.LocalCluster;
import io.ringkv.jepsen.history.Keyword;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves each nemesis against three real nodes on 127.0.0.49..51 (base 48): a partition adds DROP
 * rules between node addresses and its stop removes every one; kill leaves its targets dead and
 * stop restarts them healthy; pause stops a node (SIGSTOP) and stop resumes it; a leader-aimed
 * fault with no leader known falls back to a random node and says so. Seed printed on failure.
 */
class NemesesTest {
  @TempDir Path store;

  @Test
  @Timeout(120)
  void partitionKillAndPauseStartAndHeal() throws Exception {
    assumeTrue(Firewall.available(), "needs root and a working iptables; skipping");
    long seed = 5;
    Random random = new Random(seed);
    String runId = "nemesis" + Long.toString(System.nanoTime(), 36);
    ClusterSpec spec =
        new ClusterSpec(
            LocalCluster.findRepositoryRoot(Path.of("")),
            store,
            3,
            48,
            4,
            3,
            "nemesis-test",
            Duration.ofSeconds(60),
            List.of(),
            0,
            ClusterSpec.ADDRESS_PREFIX_DEFAULT);
    try (LocalCluster cluster = LocalCluster.start(spec);
        Firewall firewall = new Firewall(runId)) {
      Nemesis partition = Nemeses.create("partition", cluster, firewall, OptionalInt::empty);
      for (int round = 0; round < 5; round++) {
        NemesisEvent started = partition.start(random);
        Map<?, ?> value = (Map<?, ?>) started.value();
        Map<?, ?> grudge = (Map<?, ?>) value.get(Keyword.of("grudge"));
        int links = grudge.values().stream().mapToInt(s -> ((List<?>) s).size()).sum();
        assertThat(Firewall.rulesOf(runId)).as("seed %d round %d", seed, round).hasSize(links);
        if (Keyword.of("isolate-leader").equals(value.get(Keyword.of("shape")))) {
          assertThat(value.get(Keyword.of("target")))
              .isEqualTo(Keyword.of("random-no-leader-known"));
        }
        partition.stop();
        assertThat(Firewall.rulesOf(runId)).as("seed %d round %d", seed, round).isEmpty();
      }

      Nemesis kill = Nemeses.create("kill", cluster, firewall, OptionalInt::empty);
      NemesisEvent killed = kill.start(random);
      List<?> victims = (List<?>) ((Map<?, ?>) killed.value()).get(Keyword.of("nodes"));
      assertThat(victims).isNotEmpty();
      for (Object node : victims) {
        assertThat(cluster.isRunning(((Long) node).intValue())).isFalse();
      }
      kill.stop();
      for (Object node : victims) {
        assertThat(cluster.isHealthy(((Long) node).intValue())).isTrue();
      }

      Nemesis pause = Nemeses.create("pause", cluster, firewall, () -> OptionalInt.of(2));
      NemesisEvent paused = pause.start(random);
      int target =
          ((Long) ((List<?>) ((Map<?, ?>) paused.value()).get(Keyword.of("nodes"))).getFirst())
              .intValue();
      assertThat(cluster.isPaused(target)).isTrue();
      pause.stop();
      assertThat(cluster.isPaused(target)).isFalse();
      cluster.awaitHealthy(target);
    } finally {
      Firewall.removeRulesOf(runId);
    }
  }
}
