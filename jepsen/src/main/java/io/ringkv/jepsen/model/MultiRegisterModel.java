package io.ringkv.jepsen.model;

import io.ringkv.jepsen.history.Edn;
import io.ringkv.jepsen.history.Keyword;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Several registers updated by atomic transactions: {@code :txn} takes a vector of micro-ops {@code
 * [:read k v]} and {@code [:write k v]} (also {@code :r}/{@code :w}) applied in order. A read is
 * legal when v is nil (value unknown) or equals k's current value; a key never written reads as
 * nil.
 */
public record MultiRegisterModel(Map<Object, Object> values) implements Model {
  private static final Keyword R = Keyword.of("r");
  private static final Keyword W = Keyword.of("w");

  public MultiRegisterModel {
    values = Collections.unmodifiableMap(new HashMap<>(values));
  }

  @Override
  public Model step(Object f, Object value) {
    if (!Ops.TXN.equals(f)) {
      throw Ops.unknown("multi-register", f);
    }
    Map<Object, Object> next = null;
    for (Object microOp : microOps(value)) {
      List<?> parts = (List<?>) microOp;
      Object key = parts.get(1);
      Object operand = parts.get(2);
      Map<Object, Object> current = next == null ? values : next;
      if (isRead(parts.get(0))) {
        if (operand != null && !Objects.equals(operand, current.get(key))) {
          return null;
        }
      } else {
        if (next == null) {
          next = new HashMap<>(values);
        }
        next.put(key, operand);
      }
    }
    return next == null || next.equals(values) ? this : new MultiRegisterModel(next);
  }

  @Override
  public void checkOperation(Object f, Object value) {
    if (!Ops.TXN.equals(f)) {
      throw Ops.unknown("multi-register", f);
    }
    microOps(value);
  }

  @Override
  public boolean isReadOnly(Object f, Object value) {
    for (Object microOp : microOps(value)) {
      if (!isRead(((List<?>) microOp).get(0))) {
        return false;
      }
    }
    return true;
  }

  @Override
  public long sizeEstimateBytes() {
    return 48 + 48L * values.size();
  }

  private static boolean isRead(Object microF) {
    return Ops.READ.equals(microF) || R.equals(microF);
  }

  private static List<?> microOps(Object value) {
    if (!(value instanceof List<?> list)) {
      throw new IllegalArgumentException(
          ":txn takes a vector of micro-ops, not " + Edn.write(value));
    }
    for (Object microOp : list) {
      boolean wellFormed =
          microOp instanceof List<?> parts
              && parts.size() == 3
              && (isRead(parts.get(0)) || Ops.WRITE.equals(parts.get(0)) || W.equals(parts.get(0)));
      if (!wellFormed) {
        throw new IllegalArgumentException(
            "a :txn micro-op is [:read k v] or [:write k v], not " + Edn.write(microOp));
      }
    }
    return list;
  }

  @Override
  public String toString() {
    return Edn.write(values);
  }
}
