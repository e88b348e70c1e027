package io.ringkv.jepsen.checker;

import io.ringkv.jepsen.history.Edn;
import io.ringkv.jepsen.history.Op;
import io.ringkv.jepsen.history.OpType;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns a history into the operations a checker places, with Jepsen's rules: each process runs one
 * operation at a time, so an invoke is completed by the next {@code :ok}, {@code :fail} or {@code
 * :info} of the same process; {@code :fail} pairs are dropped (they did not happen); {@code :info}
 * and invokes never completed stay open; an {@code :info} with nothing pending (nemesis events) is
 * not a client operation and is ignored.
 */
public final class Operations {
  private Operations() {}

  /**
   * The operations of {@code history}, in invoke order.
   *
   * @throws IllegalArgumentException when a process invokes while its previous operation is still
   *     pending, or completes an operation it never invoked
   */
  public static List<Operation> pair(List<Op> history) {
    Map<Object, Integer> pendingByProcess = new HashMap<>();
    Operation[] byInvoke = new Operation[history.size()];
    for (int position = 0; position < history.size(); position++) {
      Op op = history.get(position);
      Integer invokeAt = pendingByProcess.get(op.process());
      if (op.type() == OpType.INVOKE) {
        if (invokeAt != null) {
          throw new IllegalArgumentException(
              "process "
                  + Edn.write(op.process())
                  + " invokes at index "
                  + op.index()
                  + " while its op at index "
                  + history.get(invokeAt).index()
                  + " is still pending");
        }
        pendingByProcess.put(op.process(), position);
        continue;
      }
      if (invokeAt == null) {
        if (op.type() == OpType.INFO) {
          continue; // a nemesis event, or a note from a client with nothing pending
        }
        throw new IllegalArgumentException(
            "process "
                + Edn.write(op.process())
                + " completes at index "
                + op.index()
                + " without a pending invoke");
      }
      pendingByProcess.remove(op.process());
      Op invoke = history.get(invokeAt);
      byInvoke[invokeAt] =
          switch (op.type()) {
            case OK ->
                new Operation(
                    invoke.process(), invoke.f(), op.value(), invokeAt, position, invoke, op);
            case INFO ->
                new Operation(
                    invoke.process(),
                    invoke.f(),
                    invoke.value(),
                    invokeAt,
                    Operation.OPEN,
                    invoke,
                    op);
            default -> null; // :fail: it did not happen
          };
    }
    for (int invokeAt : pendingByProcess.values()) {
      Op invoke = history.get(invokeAt);
      byInvoke[invokeAt] =
          new Operation(
              invoke.process(), invoke.f(), invoke.value(), invokeAt, Operation.OPEN, invoke, null);
    }
    List<Operation> operations = new ArrayList<>();
    for (Operation operation : byInvoke) {
      if (operation != null) {
        operations.add(operation);
      }
    }
    return operations;
  }

  /**
   * Splits operations whose values are {@code [key value]} tuples (Jepsen's independent keys) into
   * one list per key, in order of first appearance, each operation carrying only its inner value.
   *
   * @throws IllegalArgumentException when an operation's value is not such a tuple
   */
  public static Map<Object, List<Operation>> splitByKey(List<Operation> operations) {
    Map<Object, List<Operation>> byKey = new LinkedHashMap<>();
    for (Operation operation : operations) {
      if (!(operation.value() instanceof List<?> tuple && tuple.size() == 2)) {
        throw new IllegalArgumentException(
            "per-key checking needs [key value] tuples, but the op at index "
                + operation.invoke().index()
                + " has value "
                + Edn.write(operation.value()));
      }
      byKey
          .computeIfAbsent(tuple.get(0), key -> new ArrayList<>())
          .add(operation.withValue(tuple.get(1)));
    }
    return byKey;
  }
}
