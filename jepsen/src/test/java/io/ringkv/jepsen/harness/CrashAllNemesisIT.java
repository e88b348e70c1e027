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
 * Proves the crash-all nemesis against real nodes on 127.0.9.11-13: every fault SIGKILLs all three
 * nodes in one kill call (the history's {@code :crash-all} names every node) and the heal restarts
 * them all; the set workload loses no acknowledged add across those power losses; and with the
 * planted bug {@code debug-unsynced-writes} (storage writes acknowledged while still in the node's
 * memory) the same run is invalid, so the check can fail. Fixed seeds, printed by the runner. Runs
 * by name only, 3 to 6 minutes (6 on a machine shared with other builds):
 *
 * <pre>flock /tmp/ringkv-realnode.lock ./mvnw -B -q -pl jepsen -am test \
 *   -Dtest=CrashAllNemesisIT -Dsurefire.failIfNoSpecifiedTests=false</pre>
 */
class CrashAllNemesisIT {
  private static final int NODES = 3;

  @TempDir(cleanup = CleanupMode.ON_SUCCESS) // a failed run keeps its node logs
  Path store;

  @Test
  @Timeout(300)
  void setLosesNoAcknowledgedAddWhenEveryNodeCrashesAtOnce() throws Exception {
    CliRun run = run(false);
    assertThat(run.status()).as(run.printed()).isEqualTo(TestRunner.EXIT_VALID);
    List<Op> history = history();
    List<Map<?, ?>> crashes = completions(history, "crash-all");
    assertThat(crashes).as("crashes done").isNotEmpty();
    for (Map<?, ?> crash : crashes) {
      assertThat((List<?>) crash.get(Keyword.of("nodes"))).hasSize(NODES);
    }
    assertThat(completions(history, "restart-all")).hasSameSizeAs(crashes);
  }

  @Test
  @Timeout(300)
  void writesAcknowledgedBeforeTheyAreDurableAreCaught() throws Exception {
    CliRun run = run(true);
    assertThat(run.status()).as(run.printed()).isEqualTo(TestRunner.EXIT_INVALID);
    assertThat(run.printed()).contains("PLANTED BUG", "verdict: invalid");
  }

  private CliRun run(boolean plantedBug) {
    List<String> arguments =
        new ArrayList<>(
            List.of(
                "test",
                "--workload",
                "set",
                "--nemesis",
                "crash-all",
                "--nodes",
                Integer.toString(NODES),
                "--address-prefix",
                "127.0.9.",
                "--address-base",
                "10",
                "--partitions",
                "16",
                "--time-limit",
                "60",
                "--fault-seconds",
                "3",
                "--healed-seconds",
                "12",
                "--concurrency",
                "8",
                "--rate",
                "300",
                "--seed",
                "15",
                "--store",
                store.toString()));
    if (plantedBug) {
      arguments.add("--debug-unsynced-writes");
    }
    CliRun run = CliRun.of(arguments.toArray(String[]::new));
    System.out.println(run.printed());
    return run;
  }

  private List<Op> history() throws Exception {
    try (Stream<Path> runs = Files.list(store.resolve("set-crash-all"))) {
      Path last = runs.sorted().toList().getLast();
      return HistoryReader.read(last.resolve("history.edn"));
    }
  }

  /** The values of the nemesis completions of {@code f} that carry a node list. */
  private static List<Map<?, ?>> completions(List<Op> history, String f) {
    List<Map<?, ?>> values = new ArrayList<>();
    for (Op op : history) {
      if (!op.isClient()
          && Keyword.of(f).equals(op.f())
          && op.value() instanceof Map<?, ?> value
          && value.get(Keyword.of("nodes")) != null) {
        values.add(value);
      }
    }
    return values;
  }
}
