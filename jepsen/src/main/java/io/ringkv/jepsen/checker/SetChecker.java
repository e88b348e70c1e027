package io.ringkv.jepsen.checker;

import io.ringkv.jepsen.history.Edn;
import io.ringkv.jepsen.history.Keyword;
import io.ringkv.jepsen.history.Op;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The set workload's simple check, next to the linearizable one: every acknowledged {@code :add}
 * must appear in the final read, and the final read may hold only elements some add could have
 * written. The final read is the last {@code :ok :read}; an add acknowledged only after that read
 * began need not appear in it. Cheap at any size, and it names the lost elements.
 */
public final class SetChecker {
  private static final Keyword ADD = Keyword.of("add");
  private static final Keyword READ = Keyword.of("read");

  private SetChecker() {}

  /**
   * Checks a set history.
   *
   * @throws IllegalArgumentException when the history is malformed or the final read does not
   *     return a collection
   */
  public static SetCheckResult check(List<Op> history) {
    List<Operation> operations = Operations.pair(history);
    Operation finalRead = null;
    for (Operation operation : operations) {
      boolean okRead = READ.equals(operation.f()) && !operation.crashed();
      if (okRead
          && (finalRead == null || operation.completePosition() > finalRead.completePosition())) {
        finalRead = operation;
      }
    }
    if (finalRead == null) {
      return new SetCheckResult(
          Verdict.UNKNOWN,
          0,
          Set.of(),
          Set.of(),
          Set.of(),
          Optional.of("no successful read to compare the adds with"));
    }
    if (!(finalRead.value() instanceof Collection<?> readValue)) {
      throw new IllegalArgumentException(
          "the final read (index "
              + finalRead.invoke().index()
              + ") returned "
              + Edn.write(finalRead.value())
              + ", not a collection");
    }
    Set<Object> seen = new HashSet<>(readValue);
    Set<Object> possible = new HashSet<>();
    Set<Object> lost = new LinkedHashSet<>();
    Set<Object> recovered = new LinkedHashSet<>();
    int acknowledged = 0;
    for (Operation operation : operations) {
      if (!ADD.equals(operation.f())) {
        continue;
      }
      possible.add(operation.value());
      if (operation.crashed()) {
        if (seen.contains(operation.value())) {
          recovered.add(operation.value());
        }
      } else if (operation.completePosition() < finalRead.invokePosition()) {
        acknowledged++;
        if (!seen.contains(operation.value())) {
          lost.add(operation.value());
        }
      }
    }
    Set<Object> unexpected = new LinkedHashSet<>();
    for (Object element : readValue) {
      if (!possible.contains(element)) {
        unexpected.add(element);
      }
    }
    Verdict verdict = lost.isEmpty() && unexpected.isEmpty() ? Verdict.VALID : Verdict.INVALID;
    return new SetCheckResult(verdict, acknowledged, lost, unexpected, recovered, Optional.empty());
  }
}
