package io.ringkv.jepsen.checker;

import io.ringkv.jepsen.history.Edn;
import io.ringkv.jepsen.history.Keyword;
import java.util.List;

/**
 * One changefeed event as the changefeed workload records it in a {@code :poll} completion: the EDN
 * vector {@code [partition revision ordinal key value]}. {@code key} and {@code value} are the
 * workload's integers when the node sent what a write of the workload looks like, else the raw
 * strings it sent; {@code value} is {@link #DELETED} for a DELETE event.
 */
public record ChangefeedEvent(Id id, Object key, Object value) {
  /** The value recorded for a DELETE event. */
  public static final Keyword DELETED = Keyword.of("deleted");

  /** Where an event sits in the changefeed; unique per event across every consumer and stream. */
  public record Id(long partition, long revision, long ordinal) implements Comparable<Id> {
    @Override
    public int compareTo(Id other) {
      int byPartition = Long.compare(partition, other.partition);
      if (byPartition != 0) {
        return byPartition;
      }
      int byRevision = Long.compare(revision, other.revision);
      return byRevision != 0 ? byRevision : Long.compare(ordinal, other.ordinal);
    }

    @Override
    public String toString() {
      return "[" + partition + " " + revision + " " + ordinal + "]";
    }
  }

  /** The EDN vector of this event. */
  public List<Object> toEdn() {
    return List.of(id.partition(), id.revision(), id.ordinal(), key, value);
  }

  /**
   * Reads the EDN vector of an event.
   *
   * @throws IllegalArgumentException when {@code edn} is not such a vector
   */
  public static ChangefeedEvent fromEdn(Object edn) {
    if (!(edn instanceof List<?> fields)
        || fields.size() != 5
        || !(fields.get(0) instanceof Long partition)
        || !(fields.get(1) instanceof Long revision)
        || !(fields.get(2) instanceof Long ordinal)) {
      throw new IllegalArgumentException(
          "an event is [partition revision ordinal key value], not " + Edn.write(edn));
    }
    return new ChangefeedEvent(new Id(partition, revision, ordinal), fields.get(3), fields.get(4));
  }
}
