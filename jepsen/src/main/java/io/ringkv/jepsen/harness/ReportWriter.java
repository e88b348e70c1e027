package io.ringkv.jepsen.harness;

import io.ringkv.jepsen.checker.ChangefeedChecker;
import io.ringkv.jepsen.history.Keyword;
import io.ringkv.jepsen.history.Op;
import io.ringkv.jepsen.history.OpType;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Writes {@code report.html}: the verdict and any counter-example, op counts, a latency scatter
 * (each completed client op at its invocation time, its latency on a log scale, ok / fail / info in
 * their own colours) and a throughput chart (completions per second by type), both with the
 * nemesis's fault periods shaded. The charts are plain SVG written here; no plotting library.
 */
public final class ReportWriter {
  static final int WIDTH = 900;
  static final int HEIGHT = 300;
  private static final int MARGIN_LEFT = 60;
  private static final int MARGIN_RIGHT = 20;
  private static final int MARGIN_TOP = 20;
  private static final int MARGIN_BOTTOM = 40;

  /** Latency points drawn at most; beyond it every k-th point is drawn (keeps files small). */
  static final int LATENCY_POINTS_MAX = 20_000;

  private static final Set<Keyword> FAULT_STARTS =
      Set.of(
          Keyword.of("start-partition"),
          Keyword.of("kill"),
          Keyword.of("pause"),
          Keyword.of("start-slow"),
          Keyword.of("crash-all"));
  private static final Set<Keyword> FAULT_STOPS =
      Set.of(
          Keyword.of("stop-partition"),
          Keyword.of("restart"),
          Keyword.of("resume"),
          Keyword.of("stop-slow"),
          Keyword.of("restart-all"));

  private static final Map<OpType, String> COLOURS =
      Map.of(OpType.OK, "#2b8a3e", OpType.FAIL, "#c92a2a", OpType.INFO, "#e8890c");

  private ReportWriter() {}

  /** Writes the report of {@code summary} to {@code file}. */
  public static void write(Path file, RunSummary summary) throws IOException {
    Files.writeString(file, render(summary), StandardCharsets.UTF_8);
  }

  /** One client op: invoked at {@code startNanos}, completed {@code latencyNanos} later. */
  record Sample(long startNanos, long latencyNanos, OpType type) {}

  /** A period in which a fault was active, in nanoseconds since the start. */
  record Period(long fromNanos, long toNanos, String label) {}

  static String render(RunSummary summary) {
    List<Sample> samples = samples(summary.history());
    long endNanos = 1;
    for (Op op : summary.history()) {
      endNanos = Math.max(endNanos, op.timeNanos());
    }
    List<Period> periods = faultPeriods(summary.history(), endNanos);
    StringBuilder html = new StringBuilder();
    TestOptions options = summary.options();
    html.append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>ringkv jepsen: ")
        .append(escape(options.testName()))
        .append("</title>\n<style>body{font-family:sans-serif;margin:2em}")
        .append("pre{background:#f4f4f4;padding:1em;overflow-x:auto}")
        .append(".valid{color:#2b8a3e}.invalid{color:#c92a2a}.unknown{color:#e8890c}</style>")
        .append("</head><body>\n");
    html.append("<h1>ringkv Jepsen test: ").append(escape(options.testName())).append("</h1>\n");
    String verdict = summary.verdict().label();
    html.append("<p>Verdict: <strong class=\"")
        .append(verdict)
        .append("\" id=\"verdict\">")
        .append(verdict)
        .append("</strong></p>\n");
    html.append("<p>")
        .append(
            escape(
                String.format(
                    Locale.ROOT,
                    "%d nodes, nemesis %s, %d s, concurrency %d, rate %.0f/s, %d keys, seed %d;"
                        + " %d faults",
                    options.nodes(),
                    options.nemesis(),
                    options.timeLimit().toSeconds(),
                    options.concurrency(),
                    options.rate(),
                    options.keys(),
                    options.seed(),
                    summary.faultCount())))
        .append("</p>\n");
    Map<OpType, Long> counts = summary.completionCounts();
    html.append("<p>Client completions: ")
        .append(counts.get(OpType.OK))
        .append(" ok, ")
        .append(counts.get(OpType.FAIL))
        .append(" fail, ")
        .append(counts.get(OpType.INFO))
        .append(" info</p>\n");
    if (summary.harnessError() != null) {
      html.append("<h2>Harness error</h2>\n<pre>")
          .append(escape(summary.harnessError()))
          .append("</pre>\n");
    }
    for (CheckOutcome check : summary.checks()) {
      html.append("<h2>Checker ")
          .append(escape(check.checker()))
          .append(": ")
          .append(check.verdict().label())
          .append("</h2>\n<pre>")
          .append(escape(check.text()))
          .append("</pre>\n");
    }
    html.append("<h2>Latency</h2>\n").append(latencySvg(samples, periods, endNanos));
    html.append("<h2>Throughput</h2>\n").append(throughputSvg(samples, periods, endNanos));
    html.append("<p>Shaded: faults active. Colours: <span style=\"color:#2b8a3e\">ok</span>, ")
        .append("<span style=\"color:#c92a2a\">fail</span>, ")
        .append("<span style=\"color:#e8890c\">info</span>.</p>\n");
    html.append("</body></html>\n");
    return html.toString();
  }

  /**
   * Client ops that are not requests with a latency: a changefeed consumer records taking a
   * response it already holds ({@code :poll}) and dropping its stream ({@code :cancel}).
   */
  private static final Set<Keyword> UNTIMED =
      Set.of(ChangefeedChecker.POLL, ChangefeedChecker.CANCEL);

  static List<Sample> samples(List<Op> history) {
    Map<Object, Op> open = new HashMap<>();
    List<Sample> samples = new ArrayList<>();
    for (Op op : history) {
      if (!op.isClient() || UNTIMED.contains(op.f())) {
        continue;
      }
      if (op.type() == OpType.INVOKE) {
        open.put(op.process(), op);
      } else {
        Op invoke = open.remove(op.process());
        if (invoke != null) {
          samples.add(
              new Sample(
                  invoke.timeNanos(), Math.max(0, op.timeNanos() - invoke.timeNanos()), op.type()));
        }
      }
    }
    return samples;
  }

  /**
   * Fault periods: from the first entry of a fault's start to the last entry of its stop (both
   * halves of a nemesis operation are {@code :info}); a fault never stopped lasts to the end.
   */
  static List<Period> faultPeriods(List<Op> history, long endNanos) {
    List<Period> periods = new ArrayList<>();
    long openedAt = -1;
    long stoppedAt = -1;
    String label = "";
    for (Op op : history) {
      if (op.isClient()) {
        continue;
      }
      if (FAULT_STARTS.contains(op.f())) {
        if (openedAt >= 0 && stoppedAt >= 0) {
          periods.add(new Period(openedAt, stoppedAt, label));
          openedAt = -1;
        }
        if (openedAt < 0) {
          openedAt = op.timeNanos();
          stoppedAt = -1;
          label = ((Keyword) op.f()).name();
        }
      } else if (FAULT_STOPS.contains(op.f()) && openedAt >= 0) {
        stoppedAt = op.timeNanos();
      }
    }
    if (openedAt >= 0) {
      periods.add(new Period(openedAt, stoppedAt >= 0 ? stoppedAt : endNanos, label));
    }
    return periods;
  }

  private static String latencySvg(List<Sample> samples, List<Period> periods, long endNanos) {
    double minMs = 0.1;
    double maxMs = 1;
    for (Sample s : samples) {
      maxMs = Math.max(maxMs, s.latencyNanos() / 1e6);
    }
    double logMin = Math.log10(minMs);
    double logMax = Math.ceil(Math.log10(maxMs));
    StringBuilder svg = open("latency");
    shade(svg, periods, endNanos);
    for (double decade = logMin; decade <= logMax; decade++) {
      double y = y((decade - logMin) / (logMax - logMin));
      svg.append(line(MARGIN_LEFT, y, WIDTH - MARGIN_RIGHT, y, "#ddd"));
      svg.append(text(MARGIN_LEFT - 6, y + 4, "end", format(Math.pow(10, decade)) + " ms"));
    }
    int stride = Math.max(1, (samples.size() + LATENCY_POINTS_MAX - 1) / LATENCY_POINTS_MAX);
    for (int i = 0; i < samples.size(); i += stride) {
      Sample s = samples.get(i);
      double ms = Math.max(minMs, s.latencyNanos() / 1e6);
      svg.append(
          String.format(
              Locale.ROOT,
              "<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"1.6\" fill=\"%s\"/>",
              s.type().keyword().name(),
              x(s.startNanos(), endNanos),
              y((Math.log10(ms) - logMin) / (logMax - logMin)),
              COLOURS.get(s.type())));
    }
    return close(svg, endNanos, "time since start (s)");
  }

  private static String throughputSvg(List<Sample> samples, List<Period> periods, long endNanos) {
    int buckets = (int) Math.max(1, Math.ceil(endNanos / 1e9));
    Map<OpType, long[]> perSecond = new HashMap<>();
    long peak = 1;
    for (OpType type : List.of(OpType.OK, OpType.FAIL, OpType.INFO)) {
      perSecond.put(type, new long[buckets]);
    }
    for (Sample s : samples) {
      int bucket =
          (int) Math.min(buckets - 1, (s.startNanos() + s.latencyNanos()) / 1_000_000_000L);
      long[] counts = perSecond.get(s.type());
      counts[bucket]++;
      peak = Math.max(peak, counts[bucket]);
    }
    StringBuilder svg = open("throughput");
    shade(svg, periods, endNanos);
    for (int tick = 0; tick <= 4; tick++) {
      double y = y(tick / 4.0);
      svg.append(line(MARGIN_LEFT, y, WIDTH - MARGIN_RIGHT, y, "#ddd"));
      svg.append(text(MARGIN_LEFT - 6, y + 4, "end", format(peak * tick / 4.0) + "/s"));
    }
    for (OpType type : List.of(OpType.OK, OpType.FAIL, OpType.INFO)) {
      long[] counts = perSecond.get(type);
      StringBuilder points = new StringBuilder();
      for (int b = 0; b < buckets; b++) {
        points.append(
            String.format(
                Locale.ROOT,
                "%.1f,%.1f ",
                x((b + 0.5) * 1e9, endNanos),
                y(counts[b] / (double) peak)));
      }
      svg.append("<polyline class=\"")
          .append(type.keyword().name())
          .append("\" fill=\"none\" stroke-width=\"1.5\" stroke=\"")
          .append(COLOURS.get(type))
          .append("\" points=\"")
          .append(points.toString().strip())
          .append("\"/>");
    }
    return close(svg, endNanos, "time since start (s)");
  }

  private static StringBuilder open(String id) {
    StringBuilder svg = new StringBuilder();
    svg.append("<svg id=\"")
        .append(id)
        .append("\" xmlns=\"http://www.w3.org/2000/svg\" width=\"")
        .append(WIDTH)
        .append("\" height=\"")
        .append(HEIGHT)
        .append("\" font-size=\"11\">");
    svg.append(
        String.format(
            Locale.ROOT,
            "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#999\"/>",
            MARGIN_LEFT,
            MARGIN_TOP,
            WIDTH - MARGIN_LEFT - MARGIN_RIGHT,
            HEIGHT - MARGIN_TOP - MARGIN_BOTTOM));
    return svg;
  }

  private static void shade(StringBuilder svg, List<Period> periods, long endNanos) {
    for (Period period : periods) {
      double from = x(period.fromNanos(), endNanos);
      double to = x(period.toNanos(), endNanos);
      svg.append(
          String.format(
              Locale.ROOT,
              "<rect class=\"fault\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\""
                  + " fill=\"#868e96\" fill-opacity=\"0.2\"><title>%s</title></rect>",
              from,
              MARGIN_TOP,
              Math.max(1, to - from),
              HEIGHT - MARGIN_TOP - MARGIN_BOTTOM,
              escape(period.label())));
    }
  }

  private static String close(StringBuilder svg, long endNanos, String xLabel) {
    double seconds = endNanos / 1e9;
    double step = Math.max(1, Math.ceil(seconds / 10));
    for (double t = 0; t <= seconds; t += step) {
      double x = x(t * 1e9, endNanos);
      svg.append(text(x, HEIGHT - MARGIN_BOTTOM + 14, "middle", format(t)));
    }
    svg.append(text(WIDTH / 2.0, HEIGHT - 6, "middle", xLabel));
    svg.append("</svg>\n");
    return svg.toString();
  }

  private static double x(double nanos, long endNanos) {
    return MARGIN_LEFT + (WIDTH - MARGIN_LEFT - MARGIN_RIGHT) * Math.min(1, nanos / endNanos);
  }

  /** The y of a fraction of the plot's height, 0 at the bottom. */
  private static double y(double fraction) {
    double clamped = Math.max(0, Math.min(1, fraction));
    return HEIGHT - MARGIN_BOTTOM - (HEIGHT - MARGIN_TOP - MARGIN_BOTTOM) * clamped;
  }

  private static String line(double x1, double y1, double x2, double y2, String colour) {
    return String.format(
        Locale.ROOT,
        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>",
        x1,
        y1,
        x2,
        y2,
        colour);
  }

  private static String text(double x, double y, String anchor, String content) {
    return String.format(
        Locale.ROOT,
        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">%s</text>",
        x,
        y,
        anchor,
        escape(content));
  }

  private static String format(double value) {
    return value == Math.rint(value)
        ? Long.toString((long) value)
        : String.format(Locale.ROOT, "%.1f", value);
  }

  static String escape(String s) {
    return s.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\"", "&quot;");
  }
}
