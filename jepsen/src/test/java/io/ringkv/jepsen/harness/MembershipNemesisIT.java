package io.ringkv.jepsen.harness;

import static org.assertj.core.api.Assertions.assertThat;

import io.ringkv.jepsen.history.HistoryReader;
import io.ringkv.jepsen.history.Keyword;
import io.ringkv.jepsen.history.Op;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves the membership nemesis against real nodes on 127.0.5.31-35 (three nodes, two spares
 * started in join mode as the nemesis joins them): the register and the set workloads stay valid
 * while nodes join and are decommissioned, and each run really changed the ring (its history holds
 * an acknowledged join and decommission); and the planted bug {@code debug-move-skip-snapshot-data}
 * (a moved replica installs the snapshot's metadata but not its data) makes the set run invalid:
 * once a data-less replica leads, the final read misses acknowledged adds. Fixed seeds, printed by
 * the runner. Runs by name only, about 4 minutes:
 *
 * <pre>flock /tmp/ringkv-realnode.lock ./mvnw -B -q -pl jepsen -am test \
 *   -Dtest=MembershipNemesisIT -Dsurefire.failIfNoSpecifiedTests=false</pre>
 */
class MembershipNemesisIT {
  @TempDir(cleanup = CleanupMode.ON_SUCCESS) // a failed run keeps its node logs
  Path store;

  @Test
  @Timeout(420)
  void registerAndSetStayValidWhileTheRingChanges() throws Exception {
    for (String workload : List.of("register", "set")) {
      CliRun run = run(workload, false);
      assertThat(run.status()).as(run.printed()).isEqualTo(TestRunner.EXIT_VALID);
      List<Op> history = history(workload);
      assertThat(done(history, "join")).as("joins done").isPositive();
      assertThat(done(history, "decommission")).as("decommissions done").isPositive();
    }
  }

  @Test
  @Timeout(300)
  void movesThatSkipSnapshotDataAreCaught() throws Exception {
    CliRun run = run("set", true);
    assertThat(run.status()).as(run.printed()).isEqualTo(TestRunner.EXIT_INVALID);
    assertThat(run.printed()).contains("PLANTED BUG", "verdict: invalid");
  }

  private CliRun run(String workload, boolean plantedBug) {
    List<String> arguments =
        new ArrayList<>(
            List.of(
                "test",
                "--workload",
                workload,
                "--nemesis",
                "membership",
                "--nodes",
                "3",
                "--spare-nodes",
                "2",
                "--address-prefix",
                "127.0.5.",
                "--address-base",
                "30",
                "--partitions",
                "16",
                "--time-limit",
                "90",
                "--fault-seconds",
                "4",
                "--healed-seconds",
                "3",
                "--concurrency",
                "6",
                "--rate",
                "100",
                "--keys",
                "4",
                "--seed",
                "14",
                "--store",
                store.toString()));
    if (plantedBug) {
      arguments.add("--debug-move-skip-snapshot-data");
    }
    return CliRun.of(arguments.toArray(String[]::new));
  }

  private List<Op> history(String workload) throws Exception {
    try (Stream<Path> runs = Files.list(store.resolve(workload + "-membership"))) {
      Path last = runs.sorted().toList().getLast();
      return HistoryReader.read(last.resolve("history.edn"));
    }
  }

  /** Nemesis completions of {@code f} that carry a node (the command was accepted). */
  private static long done(List<Op> history, String f) {
    return history.stream()
        .filter(op -> !op.isClient() && Keyword.of(f).equals(op.f()))
        .filter(
            op -> op.value() instanceof Map<?, ?> value && value.get(Keyword.of("epoch")) != null)
        .count();
  }
}
