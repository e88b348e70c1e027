package io.ringkv.jepsen.harness;

import static org.assertj.core.api.Assertions.assertThat;

import io.ringkv.jepsen.cli.RingkvJepsen;
import io.ringkv.jepsen.history.HistoryReader;
import io.ringkv.jepsen.history.Op;
import io.ringkv.jepsen.history.OpType;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Proves the whole {@code ringkv-jepsen test} path against three real nodes with no nemesis, for
 * both clients (the ringkv Java client and raw gRPC stubs) and both workloads: the run is valid
 * (exit 0) with a non-empty history of successful operations, and the run folder holds history.edn,
 * results.edn, report.html and the nodes' logs, and no data. Nodes on 127.0.0.71-73 (the default
 * runs use .11-.15).
 */
class TestRunnerEndToEndTest {
  @TempDir Path store;

  @ParameterizedTest
  @CsvSource({"register,java", "register,grpc", "set,java"})
  @Timeout(150)
  void aRunWithoutNemesisIsValid(String workload, String client) throws Exception {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int status =
        RingkvJepsen.commandLine(new PrintWriter(out, true), new PrintWriter(err, true))
            .execute(
                "test",
                "--workload",
                workload,
                "--client",
                client,
                "--nemesis",
                "none",
                "--nodes",
                "3",
                "--address-base",
                "70",
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
    try (Stream<Path> runs = Files.list(store.resolve(workload + "-none"))) {
      List<Path> all = runs.toList();
      assertThat(all).as(printed).hasSize(1);
      runDir = all.getFirst();
    }
    assertThat(runDir.resolve("history.edn")).exists();
    assertThat(runDir.resolve("report.html")).exists();
    assertThat(runDir.resolve("n1").resolve("node.log")).exists();
    assertThat(runDir.resolve("n1").resolve("data")).doesNotExist();
    String results = Files.readString(runDir.resolve("results.edn"));
    assertThat(printed).contains("client: " + client);
    assertThat(status).as(printed).isEqualTo(TestRunner.EXIT_VALID);
    assertThat(results).contains(":valid? true");
    List<Op> history = HistoryReader.read(runDir.resolve("history.edn"));
    assertThat(history.stream().filter(op -> op.type() == OpType.OK).count())
        .as("successful operations")
        .isGreaterThan(5);
  }
}
