package io.ringkv.jepsen.harness;

import io.ringkv.jepsen.checker.Verdict;
import io.ringkv.jepsen.history.Op;
import io.ringkv.jepsen.history.OpType;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/** What a finished run hands to the results and report writers. */
public record RunSummary(
    TestOptions options,
    List<Op> history,
    List<CheckOutcome> checks,
    Verdict verdict,
    String harnessError,
    int faultCount) {
  public RunSummary {
    history = List.copyOf(history);
    checks = List.copyOf(checks);
  }

  /** Client completions counted by type ({@code :ok}, {@code :fail}, {@code :info}). */
  public Map<OpType, Long> completionCounts() {
    Map<OpType, Long> counts = new EnumMap<>(OpType.class);
    for (OpType type : List.of(OpType.OK, OpType.FAIL, OpType.INFO)) {
      counts.put(type, 0L);
    }
    for (Op op : history) {
      if (op.isClient() && op.type() != OpType.INVOKE) {
        counts.merge(op.type(), 1L, Long::sum);
      }
    }
    return counts;
  }

  /** The second half of each nemesis operation (what was done, or the error), in order. */
  public List<Op> nemesisEvents() {
    return history.stream()
        .filter(op -> !op.isClient())
        .filter(op -> op.value() != null || op.extra().containsKey(HistoryRecorder.ERROR))
        .toList();
  }
}
