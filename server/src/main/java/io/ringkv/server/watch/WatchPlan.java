package io.ringkv.server.watch;

import io.ringkv.proto.v1.WatchRequest;
import io.ringkv.raft.Invariants;
import io.ringkv.routing.PartitionLayout;
import io.ringkv.server.KvErrors;
import io.ringkv.server.config.Limits;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeSet;

/**
 * A checked Watch request: what it selects, which partitions it covers and where each starts. Pure:
 * {@link #of} refuses a malformed request with INVALID_ARGUMENT (MALFORMED or LIMIT_EXCEEDED),
 * identically on every node.
 *
 * @param partitions the covered partitions, ascending
 * @param starts per covered partition (same order), how it starts
 * @param cursorRevisions per covered partition, the revision to resume after (for {@link
 *     Start#CURSOR}), else 0
 * @param progressIntervalMillis the request's progress interval, 0 for the node's
 */
record WatchPlan(
    WatchSelector selector,
    int[] partitions,
    Start[] starts,
    long[] cursorRevisions,
    boolean prevKv,
    boolean linearizable,
    boolean snapshotOnCompacted,
    long progressIntervalMillis) {

  /** How one partition of a stream starts. */
  enum Start {
    /** After the revision the request's cursor gives. */
    CURSOR,
    /** After what this replica applied when the stream started (see linearizable). */
    NOW,
    /** From the oldest retained change. */
    OLDEST,
    /** A consistent scan of the selected keys, then the tail after exactly that scan. */
    SNAPSHOT
  }

  WatchPlan {
    Invariants.check(
        partitions.length == starts.length && starts.length == cursorRevisions.length,
        "watch plan arrays differ in length");
  }

  static WatchPlan of(WatchRequest request, PartitionLayout layout, Limits limits) {
    WatchSelector selector = selector(request, limits);
    int[] partitions = partitions(request, layout, selector);
    Start fallback =
        switch (request.getStart()) {
          case NOW -> Start.NOW;
          case OLDEST -> Start.OLDEST;
          case SNAPSHOT -> Start.SNAPSHOT;
          default -> throw KvErrors.malformed("unknown start " + request.getStartValue());
        };
    boolean linearizable =
        switch (request.getConsistency()) {
          case LINEARIZABLE -> true;
          case SERIALIZABLE -> false;
          default -> throw KvErrors.malformed("unknown read consistency");
        };
    boolean snapshotOnCompacted =
        switch (request.getOnCompacted()) {
          case FAIL -> false;
          case SNAPSHOT -> true;
          default -> throw KvErrors.malformed("unknown on_compacted action");
        };
    Map<Integer, Long> cursor = request.getCursor().getRevisionsMap();
    for (Map.Entry<Integer, Long> entry : cursor.entrySet()) {
      checkPartition(entry.getKey(), layout);
      if (entry.getValue() < 0) {
        throw KvErrors.malformed(
            "cursor revision of partition " + entry.getKey() + " must be >= 0");
      }
    }
    Start[] starts = new Start[partitions.length];
    long[] revisions = new long[partitions.length];
    for (int i = 0; i < partitions.length; i++) {
      Long revision = cursor.get(partitions[i]);
      starts[i] = revision == null ? fallback : Start.CURSOR;
      revisions[i] = revision == null ? 0 : revision;
    }
    return new WatchPlan(
        selector,
        partitions,
        starts,
        revisions,
        request.getPrevKv(),
        linearizable,
        snapshotOnCompacted,
        request.getProgressIntervalMillis() & 0xFFFFFFFFL);
  }

  private static WatchSelector selector(WatchRequest request, Limits limits) {
    return switch (request.getSelectorCase()) {
      case KEY -> {
        if (request.getKey().isEmpty()) {
          throw KvErrors.malformed("key must not be empty (use prefix or all)");
        }
        checkKeySize(request.getKey().size(), limits);
        yield new WatchSelector.Key(request.getKey().toByteArray());
      }
      case PREFIX -> {
        checkKeySize(request.getPrefix().size(), limits);
        yield new WatchSelector.Prefix(request.getPrefix().toByteArray());
      }
      case ALL -> {
        if (!request.getAll()) {
          throw KvErrors.malformed("all must be true when set");
        }
        yield WatchSelector.all();
      }
      default -> throw KvErrors.malformed("a Watch needs one of key, prefix or all");
    };
  }

  private static void checkKeySize(int size, Limits limits) {
    if (size > limits.keySizeBytesMax()) {
      throw KvErrors.limit("key-size-bytes-max", limits.keySizeBytesMax(), size);
    }
  }

  private static int[] partitions(
      WatchRequest request, PartitionLayout layout, WatchSelector selector) {
    TreeSet<Integer> listed = new TreeSet<>();
    for (int partition : request.getPartitionsList()) {
      checkPartition(partition, layout);
      listed.add(partition);
    }
    if (selector instanceof WatchSelector.Key key) {
      int partition = layout.partitionOfKey(key.key());
      if (!listed.isEmpty() && !listed.contains(partition)) {
        throw KvErrors.malformed(
            "the watched key is in partition " + partition + ", which partitions does not list");
      }
      return new int[] {partition};
    }
    if (listed.isEmpty()) {
      int[] every = new int[layout.partitionCount()];
      Arrays.setAll(every, i -> i);
      return every;
    }
    return listed.stream().mapToInt(Integer::intValue).toArray();
  }

  private static void checkPartition(int partition, PartitionLayout layout) {
    if (partition < 0 || partition >= layout.partitionCount()) {
      throw KvErrors.malformed(
          "partition " + partition + " does not exist (" + layout.partitionCount() + ")");
    }
  }
}
