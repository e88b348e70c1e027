package io.ringkv.jepsen.model;

import io.ringkv.jepsen.history.Edn;
import java.util.Collection;
import java.util.Collections;
import java.util.HashSet;
import java.util.Set;

/**
 * A set: {@code :add x} adds x, {@code :read s} returns the whole set and is legal when s holds
 * exactly the elements added so far (a nil read means "value unknown" and is always legal).
 */
public record SetModel(Set<Object> elements) implements Model {
  public SetModel {
    elements = Collections.unmodifiableSet(new HashSet<>(elements));
  }

  @Override
  public Model step(Object f, Object value) {
    if (Ops.ADD.equals(f)) {
      if (elements.contains(value)) {
        return this;
      }
      Set<Object> next = new HashSet<>(elements);
      next.add(value);
      return new SetModel(next);
    }
    if (Ops.READ.equals(f)) {
      return value == null || elements.equals(readElements(value)) ? this : null;
    }
    throw Ops.unknown("set", f);
  }

  @Override
  public void checkOperation(Object f, Object value) {
    if (Ops.READ.equals(f)) {
      if (value != null) {
        readElements(value);
      }
    } else if (!Ops.ADD.equals(f)) {
      throw Ops.unknown("set", f);
    }
  }

  @Override
  public boolean isReadOnly(Object f, Object value) {
    return Ops.READ.equals(f);
  }

  @Override
  public long sizeEstimateBytes() {
    return 64 + 40L * elements.size();
  }

  /** The elements a read returned, as a set. */
  static Set<Object> readElements(Object value) {
    if (value instanceof Collection<?> collection) {
      return new HashSet<>(collection);
    }
    throw new IllegalArgumentException("a set :read returns a collection, not " + Edn.write(value));
  }

  @Override
  public String toString() {
    return Edn.write(elements);
  }
}
