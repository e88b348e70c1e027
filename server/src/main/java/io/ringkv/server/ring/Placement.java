package io.ringkv.server.ring;

import io.ringkv.raft.Invariants;
import io.ringkv.routing.KeyHasher;
import io.ringkv.routing.PartitionLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Consistent-hash placement of partitions on nodes.
 *
 * <p>Each node owns {@code virtualTokensPerNode} tokens on the ring of unsigned 64-bit values;
 * token {@code t} of node {@code n} is xxHash64 of the 16 bytes (n, t) in little-endian order, so
 * every node computes the same ring from the same member list. A partition's replicas are the first
 * {@code replicationFactor} distinct nodes met walking the ring clockwise (increasing unsigned
 * value, wrapping at 2^64) from the partition's range start. Adding or removing one of N nodes thus
 * moves about 1/N of the replica slots, and only to or from that node.
 *
 * <p>This computes an initial or proposed placement only: the authority is the partition map held
 * by the meta Raft group, which records the outcome of every move.
 */
public final class Placement {
  /** Bounds ring size and memory: N nodes times V tokens entries. */
  public static final int VIRTUAL_TOKENS_PER_NODE_MAX = 4096;

  private final int replicationFactor;
  private final int virtualTokensPerNode;
  private final long[] ringTokens;
  private final long[] ringNodes;
  private final Set<Long> nodeIds;

  private record Token(long value, long nodeId) {}

  public Placement(Set<Long> nodeIds, int virtualTokensPerNode, int replicationFactor) {
    if (nodeIds.isEmpty()) {
      throw new IllegalArgumentException("placement needs at least one node");
    }
    for (long nodeId : nodeIds) {
      if (nodeId <= 0) {
        throw new IllegalArgumentException("node ids must be > 0, got " + nodeId);
      }
    }
    if (virtualTokensPerNode < 1 || virtualTokensPerNode > VIRTUAL_TOKENS_PER_NODE_MAX) {
      throw new IllegalArgumentException(
          "virtual tokens per node must be in [1, "
              + VIRTUAL_TOKENS_PER_NODE_MAX
              + "], got "
              + virtualTokensPerNode);
    }
    if (replicationFactor < 1 || replicationFactor > nodeIds.size()) {
      throw new IllegalArgumentException(
          "replication factor must be in [1, node count "
              + nodeIds.size()
              + "], got "
              + replicationFactor);
    }
    this.replicationFactor = replicationFactor;
    this.virtualTokensPerNode = virtualTokensPerNode;
    this.nodeIds = Set.copyOf(new TreeSet<>(nodeIds));
    List<Token> tokens = new ArrayList<>(nodeIds.size() * virtualTokensPerNode);
    for (long nodeId : nodeIds) {
      for (int tokenNumber = 0; tokenNumber < virtualTokensPerNode; tokenNumber++) {
        tokens.add(new Token(tokenOf(nodeId, tokenNumber), nodeId));
      }
    }
    // Ties between tokens are astronomically unlikely; break them by node id so the ring is a
    // function of the member set alone.
    tokens.sort((a, b) -> {
      int byValue = Long.compareUnsigned(a.value(), b.value());
      return byValue != 0 ? byValue : Long.compare(a.nodeId(), b.nodeId());
    });
    ringTokens = new long[tokens.size()];
    ringNodes = new long[tokens.size()];
    for (int i = 0; i < tokens.size(); i++) {
      ringTokens[i] = tokens.get(i).value();
      ringNodes[i] = tokens.get(i).nodeId();
    }
  }

  /** The ring position of a node's token: fixed forever, like the key hash. */
  static long tokenOf(long nodeId, int tokenNumber) {
    byte[] bytes = new byte[16];
    for (int i = 0; i < 8; i++) {
      bytes[i] = (byte) (nodeId >>> (8 * i));
      bytes[8 + i] = (byte) ((long) tokenNumber >>> (8 * i));
    }
    return KeyHasher.xxHash64(bytes);
  }

  /**
   * The token of {@code nodeId} met first walking the ring clockwise from {@code position}: the
   * token that makes the node an owner of a partition starting there (named in move reasons).
   */
  public static long firstTokenFrom(long nodeId, int virtualTokensPerNode, long position) {
    long best = 0;
    long bestDistance = 0;
    for (int tokenNumber = 0; tokenNumber < virtualTokensPerNode; tokenNumber++) {
      long token = tokenOf(nodeId, tokenNumber);
      // Unsigned distance clockwise; the subtraction wraps at 2^64 like the ring.
      long distance = token - position;
      if (tokenNumber == 0 || Long.compareUnsigned(distance, bestDistance) < 0) {
        best = token;
        bestDistance = distance;
      }
    }
    return best;
  }

  /** The replicas of the partition whose range starts at {@code rangeStart}, in ring order. */
  public List<Long> replicasFrom(long rangeStart) {
    int start = firstTokenAtOrAfter(rangeStart);
    Set<Long> replicas = new LinkedHashSet<>();
    for (int step = 0; step < ringTokens.length && replicas.size() < replicationFactor; step++) {
      replicas.add(ringNodes[(start + step) % ringTokens.length]);
    }
    Invariants.check(
        replicas.size() == replicationFactor,
        "ring walk found %d distinct nodes, wanted %d",
        replicas.size(),
        replicationFactor);
    return List.copyOf(replicas);
  }

  /**
   * The replicas of {@code partition} of {@code layout}, in ring order (the first is preferred).
   */
  public List<Long> replicasOf(PartitionLayout layout, int partition) {
    return replicasFrom(layout.rangeStart(partition));
  }

  /** The replicas of every partition, indexed by partition id. */
  public List<List<Long>> assign(PartitionLayout layout) {
    List<List<Long>> result = new ArrayList<>(layout.partitionCount());
    for (int partition = 0; partition < layout.partitionCount(); partition++) {
      result.add(replicasOf(layout, partition));
    }
    return List.copyOf(result);
  }

  public int replicationFactor() {
    return replicationFactor;
  }

  public int virtualTokensPerNode() {
    return virtualTokensPerNode;
  }

  public Set<Long> nodeIds() {
    return nodeIds;
  }

  /** Index of the first token whose unsigned value is >= {@code position}, wrapping to 0. */
  private int firstTokenAtOrAfter(long position) {
    int low = 0;
    int high = ringTokens.length;
    while (low < high) {
      int middle = (low + high) >>> 1;
      if (Long.compareUnsigned(ringTokens[middle], position) < 0) {
        low = middle + 1;
      } else {
        high = middle;
      }
    }
    return low == ringTokens.length ? 0 : low;
  }

  @Override
  public String toString() {
    return "Placement{nodes="
        + Arrays.toString(nodeIds.stream().sorted().toArray())
        + ", virtualTokensPerNode="
        + virtualTokensPerNode
        + ", replicationFactor="
        + replicationFactor
        + "}";
  }
}
