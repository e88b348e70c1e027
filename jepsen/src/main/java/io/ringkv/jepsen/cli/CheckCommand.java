package io.ringkv.jepsen.cli;

import io.ringkv.jepsen.checker.CheckLimits;
import io.ringkv.jepsen.checker.LinearizabilityChecker;
import io.ringkv.jepsen.checker.LinearizabilityResult;
import io.ringkv.jepsen.checker.PerKeyResult;
import io.ringkv.jepsen.checker.SetCheckResult;
import io.ringkv.jepsen.checker.SetChecker;
import io.ringkv.jepsen.checker.Verdict;
import io.ringkv.jepsen.history.Edn;
import io.ringkv.jepsen.history.EdnReader;
import io.ringkv.jepsen.history.HistoryReader;
import io.ringkv.jepsen.history.MalformedEdnException;
import io.ringkv.jepsen.history.Op;
import io.ringkv.jepsen.model.Model;
import io.ringkv.jepsen.model.ModelKind;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code ringkv-jepsen check}: reads one history and prints its verdict and counter-example. */
@Command(
    name = "check",
    mixinStandardHelpOptions = true,
    description = {
      "Checks a Jepsen EDN history for linearizability.",
      "Exit status: 0 valid, 1 invalid, 2 unknown (budget spent) or unreadable input."
    })
final class CheckCommand implements Callable<Integer> {
  /** How many operations of the longest linearizable prefix a counter-example prints. */
  private static final int PREFIX_TAIL_PRINTED_MAX = 10;

  /** How many non-valid keys a per-key check prints in full. */
  private static final int KEYS_PRINTED_MAX = 5;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(
      names = "--model",
      defaultValue = "cas-register",
      description =
          "register, cas-register, multi-register, mutex or set (default: ${DEFAULT-VALUE})")
  String model;

  @Option(
      names = "--init",
      description =
          "initial state as EDN, e.g. 0, nil, '{:x 0 :y 0}', unlocked, #{} (default: nil / empty /"
              + " unlocked)")
  String init;

  @Option(
      names = "--per-key",
      description = "values are [key value] tuples: check each key alone, keys in parallel")
  boolean perKey;

  @Option(
      names = "--strict-nil-reads",
      description =
          "a register read of nil is a real read of an absent value (default: nil means unknown)")
  boolean strictNilReads;

  @Option(
      names = "--time-limit",
      defaultValue = "600",
      description = "seconds before the verdict is unknown (default: ${DEFAULT-VALUE})")
  long timeLimitSeconds;

  @Option(
      names = "--memory-limit-mb",
      description =
          "memo-table budget in MiB before the verdict is unknown (default: half the heap)")
  Long memoryLimitMebibytes;

  @Option(
      names = "--threads",
      description = "keys checked at once with --per-key (default: one per core)")
  Integer threads;

  @Parameters(paramLabel = "FILE", description = "the history, e.g. history.edn")
  Path file;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    try {
      Model initial = ModelKind.fromName(model).initial(parseInit(), strictNilReads);
      List<Op> history = HistoryReader.read(file);
      out.printf("history: %s (%d entries)%n", file, history.size());
      out.printf("model: %s from %s%n", model, initial);
      Verdict verdict = check(history, initial, limits(), out);
      out.println("verdict: " + verdict.label());
      return switch (verdict) {
        case VALID -> RingkvJepsen.EXIT_VALID;
        case INVALID -> RingkvJepsen.EXIT_INVALID;
        case UNKNOWN -> RingkvJepsen.EXIT_UNKNOWN_OR_UNREADABLE;
      };
    } catch (MalformedEdnException e) {
      err.println("ringkv-jepsen: malformed input: " + e.getMessage());
    } catch (IOException e) {
      err.println("ringkv-jepsen: cannot read " + file + ": " + e);
    } catch (IllegalArgumentException e) {
      err.println("ringkv-jepsen: " + e.getMessage());
    }
    return RingkvJepsen.EXIT_UNKNOWN_OR_UNREADABLE;
  }

  private Object parseInit() throws MalformedEdnException {
    return init == null ? null : EdnReader.readOne(init, "--init");
  }

  private CheckLimits limits() {
    if (timeLimitSeconds <= 0) {
      throw new IllegalArgumentException("--time-limit must be positive, not " + timeLimitSeconds);
    }
    CheckLimits limits = CheckLimits.defaults().withTimeLimit(Duration.ofSeconds(timeLimitSeconds));
    if (memoryLimitMebibytes != null) {
      limits = limits.withMemoryBytesMax(memoryLimitMebibytes * 1024 * 1024);
    }
    if (threads != null) {
      limits = limits.withParallelism(threads);
    }
    return limits;
  }

  private Verdict check(List<Op> history, Model initial, CheckLimits limits, PrintWriter out) {
    Verdict verdict;
    if (perKey) {
      verdict = printPerKey(LinearizabilityChecker.checkPerKey(history, initial, limits), out);
    } else {
      LinearizabilityResult result = LinearizabilityChecker.check(history, initial, limits);
      printResult("linearizable", result, out);
      verdict = result.verdict();
    }
    if (ModelKind.fromName(model) == ModelKind.SET && !perKey) {
      SetCheckResult set = SetChecker.check(history);
      out.printf(
          "set check: %s (%d acknowledged adds; lost %s; unexpected %s; recovered %d crashed adds)%n",
          set.unknownReason().map(reason -> "unknown: " + reason).orElse(set.verdict().label()),
          set.acknowledgedCount(),
          Edn.write(set.lost()),
          Edn.write(set.unexpected()),
          set.recovered().size());
      verdict = verdict.and(set.verdict());
    }
    return verdict;
  }

  private static Verdict printPerKey(PerKeyResult result, PrintWriter out) {
    int[] counts = new int[Verdict.values().length];
    int printed = 0;
    for (Map.Entry<Object, LinearizabilityResult> key : result.byKey().entrySet()) {
      counts[key.getValue().verdict().ordinal()]++;
      if (key.getValue().verdict() != Verdict.VALID && printed < KEYS_PRINTED_MAX) {
        printResult("key " + Edn.write(key.getKey()), key.getValue(), out);
        printed++;
      }
    }
    out.printf(
        "keys: %d (%d valid, %d invalid, %d unknown)%n",
        result.byKey().size(),
        counts[Verdict.VALID.ordinal()],
        counts[Verdict.INVALID.ordinal()],
        counts[Verdict.UNKNOWN.ordinal()]);
    return result.verdict();
  }

  private static void printResult(String label, LinearizabilityResult result, PrintWriter out) {
    out.printf(
        "%s: %s (%d operations, %d configurations explored)%n",
        label, result.verdict().label(), result.operationCount(), result.configurationCount());
    result.unknownReason().ifPresent(reason -> out.println("  unknown because: " + reason));
    result
        .counterExample()
        .ifPresent(example -> out.print(example.describe(PREFIX_TAIL_PRINTED_MAX)));
  }
}
