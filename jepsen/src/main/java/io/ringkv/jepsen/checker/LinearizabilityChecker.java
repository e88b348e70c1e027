package io.ringkv.jepsen.checker;

import io.ringkv.jepsen.history.Op;
import io.ringkv.jepsen.model.Model;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Checks histories for linearizability against a {@link Model}: the whole history at once, or per
 * independent key (Jepsen's {@code [key value]} tuples), where each key is checked alone and the
 * keys in parallel. Linearizability is compositional, so a history is linearizable exactly when
 * every key's sub-history is.
 */
public final class LinearizabilityChecker {
  private LinearizabilityChecker() {}

  /**
   * Checks a whole history.
   *
   * @throws IllegalArgumentException when the history is malformed (see {@link Operations#pair}) or
   *     holds an operation the model does not know
   */
  public static LinearizabilityResult check(List<Op> history, Model initial, CheckLimits limits) {
    return checkOperations(Operations.pair(history), initial, new Budget(limits));
  }

  /**
   * Checks each independent key of a history alone, {@code limits.parallelism()} keys at a time,
   * all under one budget.
   *
   * @throws IllegalArgumentException when the history is malformed, a client operation's value is
   *     not a {@code [key value]} tuple, or the model does not know an operation
   */
  public static PerKeyResult checkPerKey(List<Op> history, Model initial, CheckLimits limits) {
    Map<Object, List<Operation>> byKey = Operations.splitByKey(Operations.pair(history));
    for (List<Operation> operations : byKey.values()) {
      checkOperationsKnown(operations, initial);
    }
    Budget budget = new Budget(limits);
    Map<Object, LinearizabilityResult> results = new LinkedHashMap<>();
    try (ExecutorService pool = Executors.newFixedThreadPool(limits.parallelism())) {
      Map<Object, Future<LinearizabilityResult>> futures = new LinkedHashMap<>();
      for (Map.Entry<Object, List<Operation>> key : byKey.entrySet()) {
        futures.put(
            key.getKey(), pool.submit(() -> checkOperations(key.getValue(), initial, budget)));
      }
      for (Map.Entry<Object, Future<LinearizabilityResult>> future : futures.entrySet()) {
        results.put(future.getKey(), await(future.getValue()));
      }
    }
    return PerKeyResult.of(results);
  }

  private static LinearizabilityResult await(Future<LinearizabilityResult> future) {
    try {
      return future.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while checking", e);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException runtime) {
        throw runtime;
      }
      throw new IllegalStateException(e.getCause());
    }
  }

  private static LinearizabilityResult checkOperations(
      List<Operation> operations, Model initial, Budget budget) {
    checkOperationsKnown(operations, initial);
    List<Operation> relevant = new ArrayList<>(operations.size());
    for (Operation operation : operations) {
      // A crashed read may or may not have happened and changes nothing either way.
      if (!(operation.crashed() && initial.isReadOnly(operation.f(), operation.value()))) {
        relevant.add(operation);
      }
    }
    return new WglSearch(relevant, initial, budget).run();
  }

  private static void checkOperationsKnown(List<Operation> operations, Model initial) {
    for (Operation operation : operations) {
      try {
        initial.checkOperation(operation.f(), operation.value());
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "op at index " + operation.invoke().index() + ": " + e.getMessage(), e);
      }
    }
  }
}
