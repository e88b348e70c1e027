package io.ringkv.jepsen.cli;

import io.ringkv.jepsen.checker.CheckLimits;
import io.ringkv.jepsen.checker.LinearizabilityChecker;
import io.ringkv.jepsen.checker.LinearizabilityResult;
import io.ringkv.jepsen.history.HistoryReader;
import io.ringkv.jepsen.history.MalformedEdnException;
import io.ringkv.jepsen.history.Op;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code ringkv-jepsen timings}: checks every history listed in the {@code expected.tsv} of each
 * folder, several rounds, and prints per file the verdict and the checking time (reading the EDN is
 * not counted), then a summary. The first round runs on a cold JVM; the warm time is the best of
 * the later rounds. Exits 1 when any verdict disagrees with the table.
 */
@Command(
    name = "timings",
    mixinStandardHelpOptions = true,
    description = "Times the checker on reference histories (folders holding an expected.tsv).")
final class TimingsCommand implements Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(
      names = "--rounds",
      defaultValue = "3",
      description = "rounds over all files; the first is the cold one (default: ${DEFAULT-VALUE})")
  int rounds;

  @Option(
      names = "--slowest",
      defaultValue = "5",
      description = "how many of the slowest files the summary names (default: ${DEFAULT-VALUE})")
  int slowestCount;

  @Parameters(paramLabel = "FOLDER", arity = "1..*", description = "folders with expected.tsv")
  List<Path> folders;

  private record Timing(
      ReferenceHistories.Entry entry,
      int entries,
      LinearizabilityResult result,
      long coldNanos,
      long warmNanos) {
    boolean agrees() {
      return result.verdict() == entry.expected();
    }
  }

  @Override
  public Integer call() throws IOException, MalformedEdnException {
    if (rounds < 2) {
      throw new IllegalArgumentException("--rounds must be at least 2 (one cold, one warm)");
    }
    PrintWriter out = spec.commandLine().getOut();
    List<ReferenceHistories.Entry> entries = new ArrayList<>();
    for (Path folder : folders) {
      entries.addAll(ReferenceHistories.read(folder));
    }
    List<List<Op>> histories = new ArrayList<>();
    for (ReferenceHistories.Entry entry : entries) {
      histories.add(HistoryReader.read(entry.file()));
    }
    long[] coldNanos = new long[entries.size()];
    long[] warmNanos = new long[entries.size()];
    LinearizabilityResult[] results = new LinearizabilityResult[entries.size()];
    for (int round = 0; round < rounds; round++) {
      for (int i = 0; i < entries.size(); i++) {
        ReferenceHistories.Entry entry = entries.get(i);
        long start = System.nanoTime();
        results[i] =
            LinearizabilityChecker.check(
                histories.get(i),
                entry.model().initial(entry.init(), false),
                CheckLimits.defaults());
        long elapsed = System.nanoTime() - start;
        if (round == 0) {
          coldNanos[i] = elapsed;
          warmNanos[i] = Long.MAX_VALUE;
        } else {
          warmNanos[i] = Math.min(warmNanos[i], elapsed);
        }
      }
    }
    List<Timing> timings = new ArrayList<>();
    for (int i = 0; i < entries.size(); i++) {
      timings.add(
          new Timing(
              entries.get(i), histories.get(i).size(), results[i], coldNanos[i], warmNanos[i]));
    }
    printTable(timings, out);
    printSummary(timings, out);
    return timings.stream().allMatch(Timing::agrees)
        ? RingkvJepsen.EXIT_VALID
        : RingkvJepsen.EXIT_INVALID;
  }

  private static void printTable(List<Timing> timings, PrintWriter out) {
    out.printf(
        "%-34s %-15s %7s %6s %-8s %-8s %9s %9s%n",
        "file", "model", "entries", "ops", "expected", "verdict", "cold ms", "warm ms");
    for (Timing t : timings) {
      out.printf(
          "%-34s %-15s %7d %6d %-8s %-8s %9.2f %9.2f%s%n",
          t.entry().name(),
          t.entry().model().cliName(),
          t.entries(),
          t.result().operationCount(),
          t.entry().expected().label(),
          t.result().verdict().label(),
          millis(t.coldNanos()),
          millis(t.warmNanos()),
          t.agrees() ? "" : "  DISAGREES");
    }
  }

  private void printSummary(List<Timing> timings, PrintWriter out) {
    long agreeing = timings.stream().filter(Timing::agrees).count();
    out.printf("%nfiles: %d, verdicts agreeing with expected.tsv: %d%n", timings.size(), agreeing);
    out.printf(
        "total: cold %.1f ms, warm %.1f ms%n",
        millis(timings.stream().mapToLong(Timing::coldNanos).sum()),
        millis(timings.stream().mapToLong(Timing::warmNanos).sum()));
    List<Timing> slowest =
        timings.stream()
            .sorted(Comparator.comparingLong(Timing::warmNanos).reversed())
            .limit(slowestCount)
            .toList();
    out.println("slowest (warm):");
    for (Timing t : slowest) {
      out.printf(
          "  %-34s %9.2f ms (cold %.2f ms, %d ops, %d configurations)%n",
          t.entry().name(),
          millis(t.warmNanos()),
          millis(t.coldNanos()),
          t.result().operationCount(),
          t.result().configurationCount());
    }
    timings.stream()
        .max(Comparator.comparingInt((Timing t) -> t.result().operationCount()))
        .ifPresent(t ->
            out.printf(
                "largest history: %s, %d ops to place (%d entries), warm %.2f ms%n",
                t.entry().name(), t.result().operationCount(), t.entries(), millis(t.warmNanos())));
  }

  private static double millis(long nanos) {
    return nanos / 1e6;
  }
}
