package io.ringkv.bench.compare;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Turns one comparison run's directory into {@code results.md} (a Markdown table of throughput,
 * p50, p99 and p99.9 per workload and operation, with the ringkv/etcd ratio) and two SVG bar
 * charts. Inputs are the YCSB-format outputs {@code <target>-<workload>.txt} written by YCSB and by
 * {@link LoadDriver}, each followed by the {@code [SERVER-CPU]} lines {@code bin/ringkv-bench}
 * appends (CPU seconds the measured cluster, and in interleaved order the idle other cluster, used
 * during the run), plus {@code machine.txt}, {@code settings.txt} and, after a profiled run, {@code
 * profile-summary.txt}. Usage: {@code Report <dir> <workload>...}.
 */
public final class Report {
  private static final Pattern LINE = Pattern.compile("^\\[([A-Z0-9_-]+)], ([^,]+), (\\S+)$");
  static final List<String> TARGETS = List.of("etcd", "ringkv");

  private Report() {}

  /**
   * One run's figures: overall throughput, op name to metric name to value, the measured run's
   * length and the server CPU seconds of the measured cluster and of the idle other one (NaN when
   * not recorded).
   */
  record Run(
      double throughput,
      Map<String, Map<String, Double>> ops,
      double runtimeSeconds,
      double allOperations,
      double serverCpuSeconds,
      double idleOtherCpuSeconds) {
    Run(double throughput, Map<String, Map<String, Double>> ops) {
      this(throughput, ops, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
    }

    /**
     * Server CPU per operation in microseconds, NaN when not recorded. The CPU figure spans the
     * whole client process, so it is divided by every operation answered, warm-up included ({@link
     * LoadDriver} prints that count; YCSB runs have no warm-up and count all).
     */
    double cpuMicrosPerOp() {
      double operations = Double.isNaN(allOperations) ? throughput * runtimeSeconds : allOperations;
      return serverCpuSeconds * 1e6 / operations;
    }
  }

  static Run parse(List<String> lines) {
    double throughput = Double.NaN;
    double runtimeSeconds = Double.NaN;
    double allOperations = Double.NaN;
    double cpu = Double.NaN;
    double idleOtherCpu = Double.NaN;
    Map<String, Map<String, Double>> ops = new TreeMap<>();
    for (String line : lines) {
      Matcher m = LINE.matcher(line.trim());
      if (!m.matches()) {
        continue;
      }
      double value;
      try {
        value = Double.parseDouble(m.group(3));
      } catch (NumberFormatException e) {
        continue;
      }
      String op = m.group(1);
      if (op.equals("OVERALL")) {
        if (m.group(2).equals("Throughput(ops/sec)")) {
          throughput = value;
        } else if (m.group(2).equals("RunTime(ms)")) {
          runtimeSeconds = value / 1000;
        } else if (m.group(2).equals("AllOperations")) {
          allOperations = value;
        }
      } else if (op.equals("SERVER-CPU")) {
        if (m.group(2).equals("own-seconds")) {
          cpu = value;
        } else if (m.group(2).equals("idle-other-seconds")) {
          idleOtherCpu = value;
        }
      } else if (!op.startsWith("CLEANUP") && !op.endsWith("-FAILED")) {
        ops.computeIfAbsent(op, o -> new LinkedHashMap<>()).put(m.group(2), value);
      }
    }
    // Only operations with latencies (YCSB also reports e.g. its garbage-collection time).
    ops.values().removeIf(figures -> !figures.containsKey("50thPercentileLatency(us)"));
    return new Run(throughput, ops, runtimeSeconds, allOperations, cpu, idleOtherCpu);
  }

  public static void main(String[] args) throws IOException {
    Path dir = Path.of(args[0]);
    List<String> workloads = List.of(args).subList(1, args.length);
    Map<String, Map<String, Run>> runs = new LinkedHashMap<>();
    for (String workload : workloads) {
      Map<String, Run> byTarget = new LinkedHashMap<>();
      for (String target : TARGETS) {
        Path file = dir.resolve(target + "-" + workload + ".txt");
        if (Files.exists(file)) {
          byTarget.put(target, parse(Files.readAllLines(file)));
        }
      }
      runs.put(workload, byTarget);
    }
    StringBuilder md = new StringBuilder();
    md.append("# ringkv vs etcd\n\n");
    Path machine = dir.resolve("machine.txt");
    if (Files.exists(machine)) {
      md.append("```\n").append(Files.readString(machine).strip()).append("\n```\n\n");
    }
    Path settings = dir.resolve("settings.txt");
    if (Files.exists(settings)) {
      md.append("```\n").append(Files.readString(settings).strip()).append("\n```\n\n");
    }
    md.append(
        "Latencies in ms; ratios are ringkv/etcd; server CPU is the user + system CPU of all three"
            + " members during the run divided by the operations done (see docs/benchmarks.md).\n\n");
    md.append(table(runs));
    md.append(idleNote(runs));
    if (Files.exists(dir.resolve("profile-summary.txt"))) {
      md.append("\nProfile of the ringkv nodes: [profile-summary.txt](profile-summary.txt).\n");
    }
    md.append("\n![throughput](throughput.svg) ![p99](p99.svg)\n");
    Files.writeString(dir.resolve("results.md"), md);
    Files.writeString(dir.resolve("throughput.svg"), bars(runs, "throughput, ops/s", null));
    Files.writeString(
        dir.resolve("p99.svg"), bars(runs, "p99 latency, ms", "99thPercentileLatency(us)"));
    System.out.print(md);
  }

  static String table(Map<String, Map<String, Run>> runs) {
    StringBuilder t = new StringBuilder();
    t.append("| workload | op | etcd ops/s | ringkv ops/s | ringkv/etcd | ")
        .append(
            "etcd p50 / p99 / p99.9 ms | ringkv p50 / p99 / p99.9 ms | p99 ringkv/etcd | "
                + "server CPU µs/op etcd / ringkv | errors etcd / ringkv |\n");
    t.append("|---|---|---|---|---|---|---|---|---|---|\n");
    for (Map.Entry<String, Map<String, Run>> workload : runs.entrySet()) {
      Run etcd = workload.getValue().get("etcd");
      Run ringkv = workload.getValue().get("ringkv");
      List<String> ops = new ArrayList<>();
      for (Run run : workload.getValue().values()) {
        run.ops().keySet().stream().filter(o -> !ops.contains(o)).forEach(ops::add);
      }
      boolean first = true;
      for (String op : ops) {
        Map<String, Double> e = etcd == null ? Map.of() : etcd.ops().getOrDefault(op, Map.of());
        Map<String, Double> r = ringkv == null ? Map.of() : ringkv.ops().getOrDefault(op, Map.of());
        String throughputE = first && etcd != null ? fmt(etcd.throughput()) : "";
        String throughputR = first && ringkv != null ? fmt(ringkv.throughput()) : "";
        String ratio =
            first && etcd != null && ringkv != null
                ? String.format(Locale.ROOT, "%.2f", ringkv.throughput() / etcd.throughput())
                : "";
        t.append("| ")
            .append(first ? workload.getKey() : "")
            .append(" | ")
            .append(op.toLowerCase(Locale.ROOT))
            .append(" | ")
            .append(throughputE)
            .append(" | ")
            .append(throughputR)
            .append(" | ")
            .append(ratio)
            .append(" | ")
            .append(percentiles(e))
            .append(" | ")
            .append(percentiles(r))
            .append(" | ")
            .append(p99Ratio(e, r))
            .append(" | ")
            .append(first ? cpuPerOp(etcd) + " / " + cpuPerOp(ringkv) : "")
            .append(" | ")
            .append(fmt(e.getOrDefault("Return=ERROR", 0.0)))
            .append(" / ")
            .append(fmt(r.getOrDefault("Return=ERROR", 0.0)))
            .append(" |\n");
        first = false;
      }
    }
    return t.toString();
  }

  private static String cpuPerOp(Run run) {
    return run == null ? "" : fmt(run.cpuMicrosPerOp());
  }

  /**
   * In interleaved order the other cluster idles during each run; this says how much CPU it took at
   * most (Raft heartbeats and ticks), as a share of one core, so a reader can judge the noise.
   */
  static String idleNote(Map<String, Map<String, Run>> runs) {
    StringBuilder note = new StringBuilder();
    for (String target : TARGETS) {
      double max = Double.NaN;
      for (Map<String, Run> byTarget : runs.values()) {
        Run run = byTarget.get(target);
        if (run != null && !Double.isNaN(run.idleOtherCpuSeconds())) {
          double share = run.idleOtherCpuSeconds() / run.runtimeSeconds();
          max = Double.isNaN(max) ? share : Math.max(max, share);
        }
      }
      if (!Double.isNaN(max)) {
        String other = target.equals("etcd") ? "ringkv" : "etcd";
        note.append(
            String.format(
                Locale.ROOT,
                "\nWhile %s was measured, the idle %s cluster used at most %.0f %% of one core.",
                target,
                other,
                100 * max));
      }
    }
    return note.isEmpty() ? "" : note.append("\n").toString();
  }

  private static String p99Ratio(Map<String, Double> etcd, Map<String, Double> ringkv) {
    Double e = etcd.get("99thPercentileLatency(us)");
    Double r = ringkv.get("99thPercentileLatency(us)");
    return e == null || r == null || e == 0 ? "" : String.format(Locale.ROOT, "%.2f", r / e);
  }

  private static String percentiles(Map<String, Double> op) {
    if (!op.containsKey("50thPercentileLatency(us)")) {
      return "";
    }
    return ms(op.get("50thPercentileLatency(us)"))
        + " / "
        + ms(op.get("99thPercentileLatency(us)"))
        + " / "
        + ms(op.get("99.9PercentileLatency(us)"));
  }

  private static String ms(Double micros) {
    return micros == null ? "?" : String.format(Locale.ROOT, "%.1f", micros / 1000);
  }

  private static String fmt(double value) {
    return Double.isNaN(value) ? "?" : String.format(Locale.ROOT, "%,.0f", value);
  }

  /**
   * A grouped bar chart: per workload one bar per target, of the overall throughput (metric null)
   * or of the given metric of the workload's first operation, in ms.
   */
  static String bars(Map<String, Map<String, Run>> runs, String title, String metric) {
    List<String> labels = new ArrayList<>();
    List<double[]> values = new ArrayList<>();
    for (Map.Entry<String, Map<String, Run>> workload : runs.entrySet()) {
      double[] pair = new double[TARGETS.size()];
      for (int i = 0; i < TARGETS.size(); i++) {
        Run run = workload.getValue().get(TARGETS.get(i));
        if (run == null) {
          pair[i] = 0;
        } else if (metric == null) {
          pair[i] = Double.isNaN(run.throughput()) ? 0 : run.throughput();
        } else {
          pair[i] =
              run.ops().values().stream()
                      .mapToDouble(m -> m.getOrDefault(metric, 0.0))
                      .max()
                      .orElse(0)
                  / 1000;
        }
      }
      labels.add(workload.getKey());
      values.add(pair);
    }
    double max = values.stream().flatMapToDouble(java.util.Arrays::stream).max().orElse(1);
    max = max <= 0 ? 1 : max;
    int barWidth = 28;
    int groupWidth = barWidth * TARGETS.size() + 24;
    int height = 220;
    int width = 60 + groupWidth * labels.size() + 120;
    String[] colors = {"#4c72b0", "#dd8452"};
    StringBuilder svg = new StringBuilder();
    svg.append(
        String.format(
            Locale.ROOT,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"11\">\n",
            width,
            height + 60));
    svg.append(
        String.format(
            Locale.ROOT,
            "<text x=\"10\" y=\"16\" font-size=\"13\">%s (max bar %s)</text>\n",
            title,
            fmt(max)));
    for (int g = 0; g < labels.size(); g++) {
      int x0 = 60 + g * groupWidth;
      for (int i = 0; i < TARGETS.size(); i++) {
        double v = values.get(g)[i];
        int h = (int) Math.round(v / max * height);
        svg.append(
            String.format(
                Locale.ROOT,
                "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"><title>%s %s: %.1f</title></rect>\n",
                x0 + i * barWidth,
                30 + height - h,
                barWidth - 2,
                h,
                colors[i % colors.length],
                TARGETS.get(i),
                labels.get(g),
                v));
        svg.append(
            String.format(
                Locale.ROOT,
                "<text x=\"%d\" y=\"%d\" font-size=\"9\">%s</text>\n",
                x0 + i * barWidth,
                26 + height - h,
                fmt(v)));
      }
      svg.append(
          String.format(
              Locale.ROOT, "<text x=\"%d\" y=\"%d\">%s</text>\n", x0, height + 46, labels.get(g)));
    }
    for (int i = 0; i < TARGETS.size(); i++) {
      int y = 40 + i * 16;
      svg.append(
          String.format(
              Locale.ROOT,
              "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"%d\" y=\"%d\">%s</text>\n",
              width - 100,
              y,
              colors[i % colors.length],
              width - 86,
              y + 9,
              TARGETS.get(i)));
    }
    svg.append("</svg>\n");
    return svg.toString();
  }
}
