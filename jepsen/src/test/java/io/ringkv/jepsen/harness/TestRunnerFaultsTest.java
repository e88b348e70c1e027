package io.ringkv.jepsen.harness;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.ringkv.jepsen.checker.Verdict;
import io.ringkv.jepsen.harness.client.KvClientAdapter;
import io.ringkv.jepsen.harness.client.Outcome;
import io.ringkv.jepsen.harness.cluster.ClusterSpec;
import io.ringkv.jepsen.harness.cluster.LocalCluster;
import io.ringkv.jepsen.harness.nemesis.Firewall;
import io.ringkv.jepsen.history.HistoryReader;
import io.ringkv.jepsen.history.Keyword;
import io.ringkv.jepsen.history.Op;
import io.ringkv.jepsen.history.OpType;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves the runner's fault machinery on three real nodes under the {@code all} nemesis: faults are
 * injected on schedule and recorded as {@code :nemesis} events, everything is healed before the
 * final reads (no iptables rule of the run is left, every node answers /health), and the results
 * and report show the faults. The KV service does not exist yet, so the clients use an in-memory
 * linearizable store that answers only while their node is running and not paused: the verdict must
 * be valid, and ops during faults must show up as {@code :info} / {@code :fail}. This tests the
 * harness, not ringkv's consistency.
 */
class TestRunnerFaultsTest {
  @TempDir Path store;

  @Test
  @Timeout(150)
  void allNemesisIsInjectedRecordedAndHealed() throws Exception {
    assumeTrue(Firewall.available(), "needs root and a working iptables; skipping");
    long seed = 3;
    TestOptions options =
        new TestOptions(
            "register",
            "all",
            3,
            Duration.ofSeconds(6),
            3,
            60,
            2,
            seed,
            54,
            4,
            Duration.ofMillis(500),
            Duration.ofSeconds(1),
            Duration.ofSeconds(1),
            Duration.ofSeconds(60),
            Duration.ofSeconds(30),
            LocalCluster.findRepositoryRoot(Path.of("")),
            store,
            false,
            3,
            Duration.ofSeconds(5),
            0,
            0,
            ClusterSpec.ADDRESS_PREFIX_DEFAULT,
            false,
            false);
    Map<String, String> shared = new HashMap<>();
    StringWriter out = new StringWriter();
    TestRunner.RunResult result =
        TestRunner.run(
            options,
            new PrintWriter(out, true),
            (cluster, nodeId, channel) -> new NodeGatedStore(shared, cluster, nodeId));
    String printed = "seed " + seed + "\n" + out;
    System.out.println(printed);
    System.out.println(Files.readString(result.runDir().resolve("results.edn")));
    assertThat(result.harnessError()).as(printed).isNull();
    assertThat(result.verdict()).as(printed).isEqualTo(Verdict.VALID);
    assertThat(result.exitStatus()).isEqualTo(TestRunner.EXIT_VALID);

    String runId = Files.readString(result.runDir().resolve("run-id")).strip();
    assertThat(Firewall.rulesOf(runId)).as("rules left after the run").isEmpty();
    List<Op> history = HistoryReader.read(result.runDir().resolve("history.edn"));
    List<Op> nemesis = history.stream().filter(op -> !op.isClient()).toList();
    assertThat(nemesis).as(printed).isNotEmpty().allMatch(op -> op.type() == OpType.INFO);
    // The slow nemesis adds a one-off note (:slow-node-back) when the healed node leads again.
    long halves =
        nemesis.stream().filter(op -> !Keyword.of("slow-node-back").equals(op.f())).count();
    assertThat(halves % 2).as("every nemesis op has both halves").isZero();
    assertThat(Files.readString(result.runDir().resolve("results.edn")))
        .contains(":valid? true", ":nemesis-events [{:f");
    assertThat(Files.readString(result.runDir().resolve("report.html")))
        .contains("class=\"fault\"", "id=\"verdict\">valid<");
    for (int node = 1; node <= 3; node++) {
      assertThat(Files.readString(result.runDir().resolve("n" + node).resolve("node.log")))
          .contains("starting node " + node);
    }
  }

  /** A linearizable map shared by all clients, reachable only while the client's node is up. */
  private static final class NodeGatedStore implements KvClientAdapter {
    private final Map<String, String> shared;
    private final LocalCluster cluster;
    private final int nodeId;

    NodeGatedStore(Map<String, String> shared, LocalCluster cluster, int nodeId) {
      this.shared = shared;
      this.cluster = cluster;
      this.nodeId = nodeId;
    }

    private boolean down() {
      return !cluster.isRunning(nodeId) || cluster.isPaused(nodeId);
    }

    @Override
    public Outcome read(String key) {
      synchronized (shared) {
        return down() ? Outcome.fail("node down") : Outcome.ok(shared.get(key));
      }
    }

    @Override
    public Outcome write(String key, String value) {
      synchronized (shared) {
        if (down()) {
          return Outcome.info("node down");
        }
        shared.put(key, value);
        return Outcome.ok(null);
      }
    }

    @Override
    public Outcome compareAndSet(String key, String expected, String newValue) {
      synchronized (shared) {
        if (down()) {
          return Outcome.info("node down");
        }
        if (!Objects.equals(shared.get(key), expected)) {
          return Outcome.fail("compare failed");
        }
        shared.put(key, newValue);
        return Outcome.ok(null);
      }
    }

    @Override
    public Outcome scanKeys(String prefix) {
      throw new UnsupportedOperationException("the register workload does not scan");
    }

    @Override
    public void close() {}
  }
}
