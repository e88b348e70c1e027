package io.ringkv.jepsen.checker;

import io.ringkv.jepsen.model.Model;
import java.util.List;

/**
 * Why a history is not linearizable. The search got furthest into the history at the completion of
 * {@code blocked}: in every order it tried, {@code blocked} could not take effect before it
 * returned, from any of {@code statesAtBlock}. {@code concurrent} are the operations that were
 * invoked but not yet placed at that point (candidates that could have gone first). {@code
 * longestPrefix} is the longest sequence of operations the search could place legally, and {@code
 * stateAfterPrefix} the state it leads to.
 */
public record CounterExample(
    Operation blocked,
    List<Operation> concurrent,
    List<Model> statesAtBlock,
    List<Operation> longestPrefix,
    Model stateAfterPrefix) {
  public CounterExample {
    concurrent = List.copyOf(concurrent);
    statesAtBlock = List.copyOf(statesAtBlock);
    longestPrefix = List.copyOf(longestPrefix);
  }

  /** Lines for a human: the blocked op, its rivals, the states, the tail of the longest prefix. */
  public String describe(int prefixTailMax) {
    StringBuilder sb = new StringBuilder();
    sb.append("no linearization reaches past the completion of:\n  ").append(blocked).append('\n');
    sb.append("from any of the states reached there: ").append(statesAtBlock).append('\n');
    sb.append("operations pending at that point (").append(concurrent.size()).append("):\n");
    for (Operation operation : concurrent) {
      sb.append("  ").append(operation).append('\n');
    }
    sb.append("longest linearizable prefix: ")
        .append(longestPrefix.size())
        .append(" ops, ending in state ")
        .append(stateAfterPrefix)
        .append('\n');
    int from = Math.max(0, longestPrefix.size() - prefixTailMax);
    if (from > 0) {
      sb.append("  ... ").append(from).append(" earlier ops\n");
    }
    for (Operation operation : longestPrefix.subList(from, longestPrefix.size())) {
      sb.append("  ").append(operation).append('\n');
    }
    return sb.toString();
  }
}
