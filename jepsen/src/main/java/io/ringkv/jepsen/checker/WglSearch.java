package io.ringkv.jepsen.checker;

import io.ringkv.jepsen.Invariants;
import io.ringkv.jepsen.model.Model;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Wing and Gong's linearizability search with Lowe's improvements, for one history and one model.
 *
 * <p>Design notes. Every operation contributes a call entry (at its invoke) and, when it completed
 * {@code :ok}, a return entry (at its completion), kept in history order in a doubly linked list.
 * The search walks the list from the front. At a call entry it tries to make that operation the
 * next to take effect: if the model accepts it and the resulting configuration (set of operations
 * placed so far, model state) is new, the operation is placed, its entries are unlinked ("lifted")
 * and the walk restarts from the front. Reaching a return entry means that operation had to take
 * effect before it returned and could not, so the search undoes its last choice (unlinking is
 * undone in reverse, dancing-links style) and tries the next call entry after it.
 *
 * <p>Crashed operations have no return entry (their return is at +infinity): they may be placed
 * wherever their call entry is reached, or never; nothing forces them. So the history is
 * linearizable as soon as every {@code :ok} operation is placed. Crashed operations that cannot
 * change the state (reads) constrain nothing and are dropped before the search.
 *
 * <p>The memo of configurations (Lowe's cache) makes the search explore each (placed set, state)
 * pair once, and is what the memory budget is charged for. The search is exhaustive, so {@code
 * invalid} is a proof, and a spent budget gives {@code unknown}, never a guess.
 */
final class WglSearch {
  /** How many steps run between two looks at the clock. */
  private static final int BUDGET_CHECK_INTERVAL_STEPS = 1024;

  /** Bytes a memo entry holds besides its bit set words and state: node, key, bit set objects. */
  private static final long MEMO_ENTRY_OVERHEAD_BYTES = 112;

  /** How many distinct states the counter-example lists at the blocking point. */
  private static final int COUNTER_EXAMPLE_STATES_MAX = 8;

  private static final int NONE = -1;

  private final List<Operation> operations;
  private final Model initial;
  private final Budget budget;

  // The entry list. Entries 0..entryCount-1 are in history order; HEAD is the sentinel.
  private final int head;
  private final int[] next;
  private final int[] prev;
  private final int[] entryOperation;
  private final boolean[] entryIsCall;
  private final int[] returnOfCall;
  private final int[] entryPosition;

  // The record of the furthest point the search was blocked at, for the counter-example.
  private int blockedPosition = NONE;
  private Operation blocked;
  private List<Operation> blockedConcurrent = List.of();
  private final List<Model> blockedStates = new ArrayList<>();
  private List<Operation> longestPrefix = List.of();
  private Model stateAfterLongestPrefix;

  private record Configuration(BitSet placed, Model state) {}

  WglSearch(List<Operation> operations, Model initial, Budget budget) {
    this.operations = operations;
    this.initial = initial;
    this.budget = budget;
    this.stateAfterLongestPrefix = initial;
    int entryCount = 0;
    for (Operation operation : operations) {
      entryCount += operation.crashed() ? 1 : 2;
    }
    this.head = entryCount;
    this.next = new int[entryCount + 1];
    this.prev = new int[entryCount + 1];
    this.entryOperation = new int[entryCount];
    this.entryIsCall = new boolean[entryCount];
    this.returnOfCall = new int[entryCount];
    this.entryPosition = new int[entryCount];
    buildEntryList();
  }

  /** Orders call and return entries by their position in the history and links them. */
  private void buildEntryList() {
    long[] keyed = new long[entryOperation.length];
    int k = 0;
    for (int op = 0; op < operations.size(); op++) {
      Operation operation = operations.get(op);
      keyed[k++] = ((long) operation.invokePosition() << 32) | ((long) op << 1) | 1L;
      if (!operation.crashed()) {
        keyed[k++] = ((long) operation.completePosition() << 32) | ((long) op << 1);
      }
    }
    Arrays.sort(keyed);
    int[] callEntryOf = new int[operations.size()];
    for (int e = 0; e < keyed.length; e++) {
      int op = (int) ((keyed[e] & 0xFFFF_FFFFL) >>> 1);
      boolean isCall = (keyed[e] & 1L) == 1L;
      entryOperation[e] = op;
      entryIsCall[e] = isCall;
      entryPosition[e] = (int) (keyed[e] >>> 32);
      returnOfCall[e] = NONE;
      if (isCall) {
        callEntryOf[op] = e;
      } else {
        returnOfCall[callEntryOf[op]] = e;
      }
      prev[e] = e == 0 ? head : e - 1;
      next[e] = e + 1 == keyed.length ? NONE : e + 1;
    }
    next[head] = keyed.length == 0 ? NONE : 0;
    prev[head] = NONE;
  }

  LinearizabilityResult run() {
    int okRemaining = 0;
    for (Operation operation : operations) {
      Invariants.check(
          operation.invokePosition() < (1 << 30), "history too long for the entry encoding");
      okRemaining += operation.crashed() ? 0 : 1;
    }
    BitSet placed = new BitSet(operations.size());
    int[] stackCall = new int[operations.size()];
    Model[] stackState = new Model[operations.size()];
    int depth = 0;
    Set<Configuration> memo = new HashSet<>();
    long memoBytes = 0;
    long entryBytes = MEMO_ENTRY_OVERHEAD_BYTES + 8L * ((operations.size() + 63) / 64);
    Model state = initial;
    int entry = next[head];
    long steps = 0;
    try {
      while (okRemaining > 0) {
        if (++steps % BUDGET_CHECK_INTERVAL_STEPS == 0) {
          String reason = budget.exhaustedReason();
          if (reason != null) {
            return unknown(reason, memo.size());
          }
        }
        Invariants.check(entry != NONE, "walked off the entry list with %d ops left", okRemaining);
        int op = entryOperation[entry];
        if (entryIsCall[entry]) {
          Operation operation = operations.get(op);
          Model after = state.step(operation.f(), operation.value());
          if (after != null) {
            placed.set(op);
            if (memo.add(new Configuration((BitSet) placed.clone(), after))) {
              long bytes = entryBytes + after.sizeEstimateBytes();
              memoBytes += bytes;
              budget.charge(bytes);
              stackCall[depth] = entry;
              stackState[depth] = state;
              depth++;
              state = after;
              lift(entry);
              okRemaining -= operation.crashed() ? 0 : 1;
              if (depth > longestPrefix.size()) {
                recordPrefix(stackCall, depth, state);
              }
              entry = next[head];
              continue;
            }
            placed.clear(op);
          }
          entry = next[entry];
        } else {
          recordBlock(entry, state);
          if (depth == 0) {
            return invalid(memo.size());
          }
          depth--;
          int call = stackCall[depth];
          state = stackState[depth];
          stackState[depth] = null;
          int undone = entryOperation[call];
          placed.clear(undone);
          unlift(call);
          okRemaining += operations.get(undone).crashed() ? 0 : 1;
          entry = next[call];
        }
      }
      return new LinearizabilityResult(
          Verdict.VALID, operations.size(), memo.size(), Optional.empty(), Optional.empty());
    } finally {
      budget.charge(-memoBytes);
    }
  }

  private void lift(int call) {
    unlink(call);
    if (returnOfCall[call] != NONE) {
      unlink(returnOfCall[call]);
    }
  }

  /** Undoes {@link #lift} of the most recently lifted call: relinks in reverse order. */
  private void unlift(int call) {
    if (returnOfCall[call] != NONE) {
      relink(returnOfCall[call]);
    }
    relink(call);
  }

  private void unlink(int entry) {
    next[prev[entry]] = next[entry];
    if (next[entry] != NONE) {
      prev[next[entry]] = prev[entry];
    }
  }

  private void relink(int entry) {
    next[prev[entry]] = entry;
    if (next[entry] != NONE) {
      prev[next[entry]] = entry;
    }
  }

  private void recordPrefix(int[] stackCall, int depth, Model state) {
    List<Operation> prefix = new ArrayList<>(depth);
    for (int i = 0; i < depth; i++) {
      prefix.add(operations.get(entryOperation[stackCall[i]]));
    }
    longestPrefix = prefix;
    stateAfterLongestPrefix = state;
  }

  /**
   * Notes that the search is blocked at return entry {@code returnEntry}: the furthest such point
   * in the history is where no linearization gets past, and what the counter-example shows.
   */
  private void recordBlock(int returnEntry, Model state) {
    int position = entryPosition[returnEntry];
    if (position < blockedPosition) {
      return;
    }
    if (position > blockedPosition) {
      blockedPosition = position;
      blocked = operations.get(entryOperation[returnEntry]);
      blockedStates.clear();
      List<Operation> concurrent = new ArrayList<>();
      for (int e = next[head]; e != returnEntry; e = next[e]) {
        if (entryIsCall[e] && entryOperation[e] != entryOperation[returnEntry]) {
          concurrent.add(operations.get(entryOperation[e]));
        }
      }
      blockedConcurrent = concurrent;
    }
    if (blockedStates.size() < COUNTER_EXAMPLE_STATES_MAX && !blockedStates.contains(state)) {
      blockedStates.add(state);
    }
  }

  private LinearizabilityResult invalid(long configurationCount) {
    CounterExample counterExample =
        new CounterExample(
            blocked, blockedConcurrent, blockedStates, longestPrefix, stateAfterLongestPrefix);
    return new LinearizabilityResult(
        Verdict.INVALID,
        operations.size(),
        configurationCount,
        Optional.empty(),
        Optional.of(counterExample));
  }

  private LinearizabilityResult unknown(String reason, long configurationCount) {
    return new LinearizabilityResult(
        Verdict.UNKNOWN,
        operations.size(),
        configurationCount,
        Optional.of(reason),
        Optional.empty());
  }
}
