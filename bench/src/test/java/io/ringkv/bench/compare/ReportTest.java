package io.ringkv.bench.compare;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves that the report reads YCSB-format outputs with the server CPU lines the compare script
 * appends, computes CPU per operation over every answered operation (warm-up included), states the
 * idle cluster's CPU share, and writes results.md with the settings, the table and the ratios.
 */
class ReportTest {
  @TempDir Path dir;

  private static List<String> output(
      double throughput, long runtimeMs, Long allOperations, double cpu, Double idle, long p99) {
    List<String> lines = new java.util.ArrayList<>();
    lines.add("[OVERALL], RunTime(ms), " + runtimeMs);
    lines.add("[OVERALL], Throughput(ops/sec), " + throughput);
    if (allOperations != null) {
      lines.add("[OVERALL], AllOperations, " + allOperations);
    }
    lines.add("[PUT], Operations, 100");
    lines.add("[PUT], 50thPercentileLatency(us), 1000");
    lines.add("[PUT], 99thPercentileLatency(us), " + p99);
    lines.add("[PUT], 99.9PercentileLatency(us), 9000");
    lines.add("[PUT], Return=ERROR, 0");
    lines.add("[SERVER-CPU], own-seconds, " + cpu);
    if (idle != null) {
      lines.add("[SERVER-CPU], idle-other-seconds, " + idle);
    }
    lines.add("load average after: 1.00 1.00 1.00");
    return lines;
  }

  @Test
  void parsesServerCpuAndDividesByEveryAnsweredOperation() {
    Report.Run withCount = Report.parse(output(1000, 10_000, 12_000L, 6.0, 0.5, 4000));
    assertThat(withCount.throughput()).isEqualTo(1000);
    assertThat(withCount.runtimeSeconds()).isEqualTo(10);
    assertThat(withCount.serverCpuSeconds()).isEqualTo(6.0);
    assertThat(withCount.idleOtherCpuSeconds()).isEqualTo(0.5);
    assertThat(withCount.cpuMicrosPerOp()).isCloseTo(500, within(1e-9));
    // The CPU lines are not an operation of the table.
    assertThat(withCount.ops()).containsOnlyKeys("PUT");

    Report.Run ycsb = Report.parse(output(1000, 10_000, null, 6.0, null, 4000));
    assertThat(ycsb.cpuMicrosPerOp()).isCloseTo(600, within(1e-9));
    assertThat(ycsb.idleOtherCpuSeconds()).isNaN();
  }

  @Test
  void writesTheTableWithRatiosCpuAndTheIdleNote() throws Exception {
    Files.write(dir.resolve("etcd-put-64.txt"), output(1000, 10_000, 10_000L, 5.0, 1.0, 4000));
    Files.write(dir.resolve("ringkv-put-64.txt"), output(2000, 10_000, 20_000L, 8.0, 2.0, 2000));
    Files.writeString(dir.resolve("settings.txt"), "order: interleaved\n");
    Files.writeString(dir.resolve("machine.txt"), "cores: 2\n");

    Report.main(new String[] {dir.toString(), "put-64"});

    String md = Files.readString(dir.resolve("results.md"));
    assertThat(md).contains("order: interleaved").contains("cores: 2");
    assertThat(md)
        .contains(
            "| put-64 | put | 1,000 | 2,000 | 2.00 | 1.0 / 4.0 / 9.0 | 1.0 / 2.0 / 9.0 | 0.50 | 500 / 400 | 0 / 0 |");
    // etcd measured while ringkv idled used 1.0 s over 10 s; the other way round 2.0 s.
    assertThat(md).contains("the idle ringkv cluster used at most 10 % of one core");
    assertThat(md).contains("the idle etcd cluster used at most 20 % of one core");
    assertThat(dir.resolve("throughput.svg")).exists();
  }

  @Test
  void noIdleNoteInSequentialOrder() {
    Map<String, Map<String, Report.Run>> runs = new LinkedHashMap<>();
    runs.put("put-64", Map.of("etcd", Report.parse(output(1000, 10_000, null, 5.0, null, 1))));
    assertThat(Report.idleNote(runs)).isEmpty();
  }
}
