package io.ringkv.client;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalLong;

/**
 * A position in the changefeed: for each partition, the last revision already seen. Resuming a
 * watch from a cursor delivers every later event of the listed partitions exactly once; partitions
 * the cursor does not list start where the query's {@link WatchQuery.Start} says.
 *
 * <p>Immutable and cheap to copy: two parallel sorted arrays, so handing one to every event costs
 * one small array copy per changed partition. Its text form ({@link #toString()}, {@link #parse})
 * is {@code partition:revision} pairs joined by commas, e.g. {@code 0:17,3:42}, and the empty
 * cursor is {@code -}.
 */
public final class WatchCursor {
  private static final WatchCursor EMPTY = new WatchCursor(new int[0], new long[0]);

  /** Text form of the cursor that lists no partition. */
  public static final String EMPTY_TEXT = "-";

  private final int[] partitions;
  private final long[] revisions;

  private WatchCursor(int[] partitions, long[] revisions) {
    this.partitions = partitions;
    this.revisions = revisions;
    for (int i = 0; i < partitions.length; i++) {
      Invariants.check(
          partitions[i] >= 0 && revisions[i] >= 0,
          "cursor entry %d:%d",
          partitions[i],
          revisions[i]);
      Invariants.check(i == 0 || partitions[i - 1] < partitions[i], "cursor partitions unsorted");
    }
  }

  public static WatchCursor empty() {
    return EMPTY;
  }

  /** A cursor from partition → revision pairs (partition and revision must be >= 0). */
  public static WatchCursor of(Map<Integer, Long> revisionsByPartition) {
    int[] keys =
        revisionsByPartition.keySet().stream().mapToInt(Integer::intValue).sorted().toArray();
    long[] values = new long[keys.length];
    for (int i = 0; i < keys.length; i++) {
      values[i] = revisionsByPartition.get(keys[i]);
      if (keys[i] < 0 || values[i] < 0) {
        throw new IllegalArgumentException(
            "cursor entries must be >= 0, got " + keys[i] + ":" + values[i]);
      }
    }
    return new WatchCursor(keys, values);
  }

  static WatchCursor fromProto(io.ringkv.proto.v1.WatchCursor proto) {
    return of(proto.getRevisionsMap());
  }

  io.ringkv.proto.v1.WatchCursor toProto() {
    return io.ringkv.proto.v1.WatchCursor.newBuilder().putAllRevisions(asMap()).build();
  }

  /** The last revision seen of {@code partition}, or empty when the cursor does not list it. */
  public OptionalLong revision(int partition) {
    int index = Arrays.binarySearch(partitions, partition);
    return index >= 0 ? OptionalLong.of(revisions[index]) : OptionalLong.empty();
  }

  /** The partitions listed, ascending. */
  public int[] partitions() {
    return partitions.clone();
  }

  public int size() {
    return partitions.length;
  }

  public boolean isEmpty() {
    return partitions.length == 0;
  }

  /** This cursor with {@code partition} at {@code revision} (added or replaced). */
  public WatchCursor with(int partition, long revision) {
    if (partition < 0 || revision < 0) {
      throw new IllegalArgumentException(
          "cursor entries must be >= 0, got " + partition + ":" + revision);
    }
    int index = Arrays.binarySearch(partitions, partition);
    if (index >= 0) {
      if (revisions[index] == revision) {
        return this;
      }
      long[] copy = revisions.clone();
      copy[index] = revision;
      return new WatchCursor(partitions, copy);
    }
    int at = -index - 1;
    int[] keys = new int[partitions.length + 1];
    long[] values = new long[partitions.length + 1];
    System.arraycopy(partitions, 0, keys, 0, at);
    System.arraycopy(revisions, 0, values, 0, at);
    keys[at] = partition;
    values[at] = revision;
    System.arraycopy(partitions, at, keys, at + 1, partitions.length - at);
    System.arraycopy(revisions, at, values, at + 1, partitions.length - at);
    return new WatchCursor(keys, values);
  }

  /** Partition → revision, in partition order. */
  public Map<Integer, Long> asMap() {
    Map<Integer, Long> map = new LinkedHashMap<>();
    for (int i = 0; i < partitions.length; i++) {
      map.put(partitions[i], revisions[i]);
    }
    return map;
  }

  /**
   * Parses the text form: {@code partition:revision} pairs joined by commas, or {@code -}.
   *
   * @throws IllegalArgumentException naming the bad pair
   */
  public static WatchCursor parse(String text) {
    if (text == null) {
      throw new IllegalArgumentException("cursor must not be null");
    }
    String trimmed = text.trim();
    if (trimmed.equals(EMPTY_TEXT)) {
      return EMPTY;
    }
    Map<Integer, Long> map = new LinkedHashMap<>();
    for (String pair : trimmed.split(",", -1)) {
      int colon = pair.indexOf(':');
      try {
        if (colon <= 0) {
          throw new NumberFormatException("no colon");
        }
        int partition = Integer.parseInt(pair.substring(0, colon).trim());
        long revision = Long.parseLong(pair.substring(colon + 1).trim());
        if (map.put(partition, revision) != null) {
          throw new IllegalArgumentException(
              "cursor '" + text + "' lists partition " + partition + " twice");
        }
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(
            "cursor '" + text + "': '" + pair + "' is not partition:revision", e);
      }
    }
    return of(map);
  }

  @Override
  public String toString() {
    if (partitions.length == 0) {
      return EMPTY_TEXT;
    }
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < partitions.length; i++) {
      if (i > 0) {
        text.append(',');
      }
      text.append(partitions[i]).append(':').append(revisions[i]);
    }
    return text.toString();
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof WatchCursor that
        && Arrays.equals(partitions, that.partitions)
        && Arrays.equals(revisions, that.revisions);
  }

  @Override
  public int hashCode() {
    return 31 * Arrays.hashCode(partitions) + Arrays.hashCode(revisions);
  }
}
