package io.ringkv.jepsen.harness;

import static org.assertj.core.api.Assertions.assertThat;

import io.ringkv.jepsen.checker.CheckLimits;
import io.ringkv.jepsen.checker.Verdict;
import io.ringkv.jepsen.harness.cluster.ClusterSpec;
import io.ringkv.jepsen.history.EdnReader;
import io.ringkv.jepsen.history.Keyword;
import io.ringkv.jepsen.history.Op;
import io.ringkv.jepsen.history.OpType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves the report and results on a synthetic register history that reads a value never written:
 * the checker finds it invalid, {@code report.html} exists with both SVG charts (latency points,
 * throughput lines, the shaded partition) and the verdict with its counter-example, and {@code
 * results.edn} reads back as EDN with the verdict, op counts and nemesis events.
 */
class ReportWriterTest {
  private static final Keyword READ = Keyword.of("read");
  private static final Keyword WRITE = Keyword.of("write");

  @TempDir Path dir;

  @Test
  void writesChartsVerdictAndCounterExample() throws Exception {
    List<Op> history = new ArrayList<>();
    long ms = 1_000_000;
    add(history, 0L, OpType.INVOKE, WRITE, 1L, 10 * ms);
    add(history, 0L, OpType.OK, WRITE, 1L, 15 * ms);
    add(history, Keyword.of("nemesis"), OpType.INFO, Keyword.of("start-partition"), null, 500 * ms);
    add(
        history,
        Keyword.of("nemesis"),
        OpType.INFO,
        Keyword.of("start-partition"),
        Map.of(),
        510 * ms);
    add(history, 1L, OpType.INVOKE, WRITE, 3L, 700 * ms);
    add(history, 1L, OpType.INFO, WRITE, 3L, 2700 * ms);
    add(history, Keyword.of("nemesis"), OpType.INFO, Keyword.of("stop-partition"), null, 1500 * ms);
    add(
        history,
        Keyword.of("nemesis"),
        OpType.INFO,
        Keyword.of("stop-partition"),
        Map.of(),
        1600 * ms);
    add(history, 2L, OpType.INVOKE, READ, null, 1700 * ms);
    add(history, 2L, OpType.OK, READ, 2L, 1720 * ms); // 2 was never written
    add(history, 3L, OpType.INVOKE, WRITE, 4L, 1800 * ms);
    add(history, 3L, OpType.FAIL, WRITE, 4L, 1805 * ms);

    List<CheckOutcome> checks = new RegisterWorkload(1).check(history, CheckLimits.defaults());
    assertThat(checks).hasSize(1);
    assertThat(checks.getFirst().verdict()).isEqualTo(Verdict.INVALID);
    RunSummary summary = new RunSummary(options(), history, checks, Verdict.INVALID, null, 1);

    Path report = dir.resolve("report.html");
    ReportWriter.write(report, summary);
    String html = Files.readString(report);
    assertThat(html)
        .contains("<svg id=\"latency\"", "<svg id=\"throughput\"", "<circle class=\"ok\"")
        .contains("<circle class=\"fail\"", "<circle class=\"info\"", "<polyline class=\"ok\"")
        .contains("class=\"fault\"", "id=\"verdict\">invalid<")
        .contains("no linearization reaches past the completion of");
    assertThat(ReportWriter.faultPeriods(history, 2800 * ms))
        .containsExactly(new ReportWriter.Period(500 * ms, 1600 * ms, "start-partition"));

    Path results = dir.resolve("results.edn");
    ResultsWriter.write(results, summary);
    Object edn = EdnReader.readOne(Files.readString(results), "results.edn");
    assertThat(edn).isInstanceOf(Map.class);
    Map<?, ?> map = (Map<?, ?>) edn;
    assertThat(map.get(Keyword.of("valid?"))).isEqualTo(false);
    @SuppressWarnings("unchecked")
    Map<Object, Object> counts = (Map<Object, Object>) map.get(Keyword.of("op-counts"));
    assertThat(counts)
        .containsEntry(Keyword.of("ok"), 2L)
        .containsEntry(Keyword.of("fail"), 1L)
        .containsEntry(Keyword.of("info"), 1L);
    assertThat((List<?>) map.get(Keyword.of("nemesis-events"))).hasSize(2);
  }

  private static void add(
      List<Op> history, Object process, OpType type, Keyword f, Object value, long timeNanos) {
    history.add(
        Op.of(
            history.size(),
            process,
            type,
            f,
            process instanceof Long ? Arrays.asList(0L, value) : value,
            timeNanos));
  }

  static TestOptions options() {
    return new TestOptions(
        "register",
        "partition",
        3,
        Duration.ofSeconds(3),
        4,
        100,
        1,
        42,
        40,
        4,
        Duration.ofSeconds(1),
        Duration.ofSeconds(1),
        Duration.ofSeconds(1),
        Duration.ofSeconds(30),
        Duration.ofSeconds(30),
        Path.of("."),
        Path.of("store"),
        false,
        3,
        Duration.ofSeconds(5),
        0,
        0,
        ClusterSpec.ADDRESS_PREFIX_DEFAULT,
        false,
        false);
  }
}
