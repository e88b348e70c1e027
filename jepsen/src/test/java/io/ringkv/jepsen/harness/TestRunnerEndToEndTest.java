package io.ringkv.jepsen.harness;

import static org.assertj.core.api.Assertions.assertThat;

import io.ringkv.jepsen.cli.RingkvJepsen;
import io.ringkv.jepsen.history.HistoryReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves the whole {@code ringkv-jepsen test} path against three real nodes with no nemesis: the
 * run folder holds history.edn, results.edn, report.html and the nodes' logs, and no data. While
 * the node does not implement the KV service, the run must end in a harness error (exit 2) that
 * names UNIMPLEMENTED, never in a verdict; once it does, the run must be valid (exit 0).
 */
class TestRunnerEndToEndTest {
  @TempDir Path store;

  @Test
  @Timeout(150)
  void registerWithoutNemesisIsValidOrAHarnessError() throws Exception {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int status =
        RingkvJepsen.commandLine(new PrintWriter(out, true), new PrintWriter(err, true))
            .execute(
                "test",
                "--workload",
                "register",
                "--nemesis",
                "none",
                "--nodes",
                "3",
                "--address-base",
                "44",
                "--partitions",
                "4",
                "--time-limit",
                "3",
                "--concurrency",
                "3",
                "--rate",
                "30",
                "--keys",
                "2",
                "--seed",
                "7",
                "--store",
                store.toString());
    String printed = out + "\n" + err;
    Path runDir;
    try (Stream<Path> runs = Files.list(store.resolve("register-none"))) {
      List<Path> all = runs.toList();
      assertThat(all).as(printed).hasSize(1);
      runDir = all.getFirst();
    }
    assertThat(runDir.resolve("history.edn")).exists();
    assertThat(runDir.resolve("report.html")).exists();
    assertThat(runDir.resolve("n1").resolve("node.log")).exists();
    assertThat(runDir.resolve("n1").resolve("data")).doesNotExist();
    String results = Files.readString(runDir.resolve("results.edn"));
    if (printed.contains("UNIMPLEMENTED")) {
      assertThat(status).as(printed).isEqualTo(TestRunner.EXIT_UNKNOWN);
      assertThat(printed).contains("harness error", "does not implement ringkv.v1.KV");
      assertThat(results).contains(":valid? :unknown", "UNIMPLEMENTED");
    } else {
      assertThat(status).as(printed).isEqualTo(TestRunner.EXIT_VALID);
      assertThat(results).contains(":valid? true");
      assertThat(HistoryReader.read(runDir.resolve("history.edn"))).isNotEmpty();
    }
  }
}
