package io.ringkv.bench.compare;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Turns a {@code bin/ringkv-bench watch-figures} directory into {@code results.md}: the lag table
 * (one row per {@code watch-RATE-CONSUMERS} run, read with {@link Report#parse}), then the drain
 * and idle-watch lines their drivers printed, with the targets beside them. Usage: {@code
 * WatchReport <dir> <watch-name>...}.
 */
public final class WatchReport {
  private static final String LAG = "WATCH-LAG";
  private static final String PUT = "PUT";
  private static final String FROM_SEND = "WATCH-FROM-SEND";
  private static final String LOAD_AFTER = "load average after:";

  private WatchReport() {}

  public static void main(String[] args) throws IOException {
    Path dir = Path.of(args[0]);
    StringBuilder md = new StringBuilder("# ringkv changefeed figures\n\n");
    for (String file : List.of("machine.txt", "settings.txt")) {
      Path path = dir.resolve(file);
      if (Files.exists(path)) {
        md.append("```\n").append(Files.readString(path).strip()).append("\n```\n\n");
      }
    }
    md.append(lagTable(dir, List.of(args).subList(1, args.length)));
    md.append("\nTarget: lag p99 under 50 ms at 1,000 puts/s.\n\n");
    md.append("Drain from OLDEST (target at least 50,000 events/s):\n\n");
    md.append(lines(dir.resolve("watch-drain.txt"), "watch-drain:"));
    md.append("\nIdle watches on one node (target 10,000, under 2 KB each):\n\n");
    md.append(lines(dir.resolve("watch-idle.txt"), "watch-idle:"));
    Files.writeString(dir.resolve("results.md"), md);
    System.out.print(md);
  }

  static String lagTable(Path dir, List<String> names) throws IOException {
    StringBuilder t = new StringBuilder();
    t.append("| run | puts/s done | put p50 / p99 ms | lag p50 / p99 / p99.9 / max ms |")
        .append(" from send p50 / p99 ms | deliveries | missing | load average after |\n")
        .append("|---|---|---|---|---|---|---|---|\n");
    for (String name : names) {
      Path file = dir.resolve("ringkv-" + name + ".txt");
      if (!Files.exists(file)) {
        t.append("| ").append(name).append(" | (no output) | | | | | | |\n");
        continue;
      }
      List<String> lines = Files.readAllLines(file);
      Report.Run run = Report.parse(lines);
      String load =
          lines.stream()
              .filter(l -> l.startsWith(LOAD_AFTER))
              .map(l -> l.substring(LOAD_AFTER.length()).strip().split(" ")[0])
              .findFirst()
              .orElse("?");
      Map<String, Double> put = run.ops().getOrDefault(PUT, Map.of());
      Map<String, Double> lag = run.ops().getOrDefault(LAG, Map.of());
      Map<String, Double> fromSend = run.ops().getOrDefault(FROM_SEND, Map.of());
      t.append(
          String.format(
              Locale.ROOT,
              "| %s | %,.0f | %s / %s | %s / %s / %s / %s | %s / %s | %,.0f | %,.0f | %s |%n",
              name,
              run.throughput(),
              ms(put, "50thPercentileLatency(us)"),
              ms(put, "99thPercentileLatency(us)"),
              ms(lag, "50thPercentileLatency(us)"),
              ms(lag, "99thPercentileLatency(us)"),
              ms(lag, "99.9PercentileLatency(us)"),
              ms(lag, "MaxLatency(us)"),
              ms(fromSend, "50thPercentileLatency(us)"),
              ms(fromSend, "99thPercentileLatency(us)"),
              lag.getOrDefault("Operations", Double.NaN),
              lag.getOrDefault("Return=ERROR", Double.NaN),
              load));
    }
    return t.toString();
  }

  private static String ms(Map<String, Double> op, String metric) {
    Double micros = op.get(metric);
    return micros == null ? "?" : String.format(Locale.ROOT, "%.1f", micros / 1000);
  }

  /** The lines of {@code file} that start with {@code marker}, as a code block. */
  private static String lines(Path file, String marker) throws IOException {
    if (!Files.exists(file)) {
      return "(no output)\n";
    }
    StringBuilder block = new StringBuilder("```\n");
    for (String line : Files.readAllLines(file)) {
      // The marked lines, the class lists indented under them, and the load average.
      if (line.startsWith(marker) || line.startsWith("  ") || line.startsWith("load average")) {
        block.append(line).append('\n');
      }
    }
    return block.append("```\n").toString();
  }
}
