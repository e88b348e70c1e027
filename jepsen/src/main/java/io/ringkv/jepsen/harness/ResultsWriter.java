package io.ringkv.jepsen.harness;

import io.ringkv.jepsen.history.Edn;
import io.ringkv.jepsen.history.Keyword;
import io.ringkv.jepsen.history.Op;
import io.ringkv.jepsen.history.OpType;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes {@code results.edn}: the overall {@code :valid?} (true, false or {@code :unknown}), each
 * checker's result, client op counts by type, the nemesis events, the options and any harness
 * error.
 */
final class ResultsWriter {
  private ResultsWriter() {}

  static void write(Path file, RunSummary summary) throws IOException {
    Files.writeString(file, Edn.write(toEdn(summary)) + "\n", StandardCharsets.UTF_8);
  }

  static Map<Object, Object> toEdn(RunSummary summary) {
    Map<Object, Object> edn = new LinkedHashMap<>();
    edn.put(Keyword.of("valid?"), RegisterWorkload.validEdn(summary.verdict()));
    if (summary.harnessError() != null) {
      edn.put(Keyword.of("error"), summary.harnessError());
    }
    Map<Object, Object> checkers = new LinkedHashMap<>();
    for (CheckOutcome check : summary.checks()) {
      checkers.put(Keyword.of(check.checker()), check.edn());
    }
    edn.put(Keyword.of("checkers"), checkers);
    Map<Object, Object> counts = new LinkedHashMap<>();
    summary.completionCounts().forEach((type, count) -> counts.put(type.keyword(), count));
    edn.put(Keyword.of("op-counts"), counts);
    List<Object> events = new ArrayList<>();
    for (Op op : summary.nemesisEvents()) {
      Map<Object, Object> event = new LinkedHashMap<>();
      event.put(Keyword.of("f"), op.f());
      event.put(Keyword.of("time"), op.timeNanos());
      event.put(Keyword.of("value"), op.value());
      Object error = op.extra().get(HistoryRecorder.ERROR);
      if (error != null) {
        event.put(Keyword.of("error"), error);
      }
      events.add(event);
    }
    edn.put(Keyword.of("nemesis-events"), events);
    TestOptions options = summary.options();
    Map<Object, Object> test = new LinkedHashMap<>();
    test.put(Keyword.of("workload"), Keyword.of(options.workload()));
    test.put(Keyword.of("nemesis"), Keyword.of(options.nemesis()));
    test.put(Keyword.of("nodes"), (long) options.nodes());
    test.put(Keyword.of("time-limit-s"), options.timeLimit().toSeconds());
    test.put(Keyword.of("concurrency"), (long) options.concurrency());
    test.put(Keyword.of("rate"), options.rate());
    test.put(Keyword.of("keys"), (long) options.keys());
    test.put(Keyword.of("seed"), options.seed());
    edn.put(Keyword.of("test"), test);
    edn.put(Keyword.of("faults"), (long) summary.faultCount());
    edn.put(
        Keyword.of("invocations"),
        summary.history().stream()
            .filter(op -> op.isClient() && op.type() == OpType.INVOKE)
            .count());
    return edn;
  }
}
