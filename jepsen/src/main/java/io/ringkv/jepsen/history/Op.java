package io.ringkv.jepsen.history;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * One entry of a Jepsen history: an invocation or a completion.
 *
 * <p>{@code process} is a {@link Long} client id or a keyword such as {@code :nemesis}; {@code f}
 * is the operation name (usually a keyword such as {@code :read}); {@code value} is any EDN value.
 * {@code index} is the entry's position in the history and {@code timeNanos} its time since the
 * test started; either is {@link #ABSENT} when the source did not give it. Keys other than these
 * (for example {@code :error}) are kept in {@code extra}, in their original order, so a history
 * survives a read and a write unchanged.
 */
public record Op(
    long index,
    Object process,
    OpType type,
    Object f,
    Object value,
    long timeNanos,
    Map<Object, Object> extra) {
  /** Marks an absent {@code :index} or {@code :time}. */
  public static final long ABSENT = -1;

  public static final Keyword PROCESS = Keyword.of("process");
  public static final Keyword TYPE = Keyword.of("type");
  public static final Keyword F = Keyword.of("f");
  public static final Keyword VALUE = Keyword.of("value");
  public static final Keyword TIME = Keyword.of("time");
  public static final Keyword INDEX = Keyword.of("index");

  public Op {
    Objects.requireNonNull(type, "type");
    if (!(process instanceof Long || process instanceof Keyword)) {
      throw new IllegalArgumentException(
          "process must be an integer or a keyword, not " + Edn.write(process));
    }
    if (index < ABSENT || timeNanos < ABSENT) {
      throw new IllegalArgumentException("index and time must be non-negative or ABSENT");
    }
    extra = Collections.unmodifiableMap(new LinkedHashMap<>(extra));
    for (Object key : extra.keySet()) {
      if (key instanceof Keyword k && isStandardKey(k)) {
        throw new IllegalArgumentException("extra must not repeat the standard key " + k);
      }
    }
  }

  /** An entry with no extra keys. */
  public static Op of(
      long index, Object process, OpType type, Object f, Object value, long timeNanos) {
    return new Op(index, process, type, f, value, timeNanos, Map.of());
  }

  /** The same entry with another value. */
  public Op withValue(Object newValue) {
    return new Op(index, process, type, f, newValue, timeNanos, extra);
  }

  /** The same entry with another index. */
  public Op withIndex(long newIndex) {
    return new Op(newIndex, process, type, f, value, timeNanos, extra);
  }

  /** True for an entry that a client process (not the nemesis) wrote. */
  public boolean isClient() {
    return process instanceof Long;
  }

  /** The EDN map of this entry, keys in Jepsen's usual order; absent index or time are left out. */
  public Map<Object, Object> toEdnMap() {
    Map<Object, Object> map = new LinkedHashMap<>();
    map.put(TYPE, type.keyword());
    map.put(F, f);
    map.put(VALUE, value);
    map.put(PROCESS, process);
    if (timeNanos != ABSENT) {
      map.put(TIME, timeNanos);
    }
    if (index != ABSENT) {
      map.put(INDEX, index);
    }
    map.putAll(extra);
    return map;
  }

  /** The entry as one line of EDN. */
  @Override
  public String toString() {
    return Edn.write(toEdnMap());
  }

  static boolean isStandardKey(Keyword key) {
    return key.equals(PROCESS)
        || key.equals(TYPE)
        || key.equals(F)
        || key.equals(VALUE)
        || key.equals(TIME)
        || key.equals(INDEX);
  }
}
