package io.ringkv.jepsen.harness.cluster;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * What cluster to start: {@code nodeCount} nodes, node {@code i} (1-based) on {@code
 * <addressPrefix>(addressBase + i)} (by default {@code 127.0.0.}) with the standard ports, its data
 * and log under {@code storeDir/n<i>/}, the server built in the repository at {@code
 * repositoryRoot}; {@code extraNodeFlags} are appended to every node's command line (e.g. a debug
 * switch). {@code spareCount} more node ids ({@code nodeCount + 1 ..}) on the next addresses are
 * not started with the cluster: a test or nemesis starts them later in join mode ({@code --join}
 * the first nodes) and adds them to the cluster map.
 */
public record ClusterSpec(
    Path repositoryRoot,
    Path storeDir,
    int nodeCount,
    int addressBase,
    int partitions,
    int replicationFactor,
    String clusterId,
    Duration healthTimeout,
    java.util.List<String> extraNodeFlags,
    int spareCount,
    String addressPrefix) {
  /** Most nodes a local cluster may have (each needs its own loopback address). */
  public static final int NODE_COUNT_MAX = 9;

  /** The default first address is 127.0.0.(10 + 1), as DESIGN.md's local cluster. */
  public static final int ADDRESS_BASE_DEFAULT = 10;

  public static final int CLIENT_PORT = 7379;
  public static final int PEER_PORT = 7380;
  public static final int METRICS_PORT = 7390;

  /** The loopback prefix of node addresses unless a spec says otherwise. */
  public static final String ADDRESS_PREFIX_DEFAULT = "127.0.0.";

  public ClusterSpec {
    extraNodeFlags = java.util.List.copyOf(extraNodeFlags);
    Objects.requireNonNull(addressPrefix, "addressPrefix");
    if (!addressPrefix.matches("127\\.([0-9]{1,3})\\.([0-9]{1,3})\\.")) {
      throw new IllegalArgumentException(
          "address prefix must be a loopback /24 such as 127.0.5., not " + addressPrefix);
    }
    if (spareCount < 0 || nodeCount + spareCount > NODE_COUNT_MAX) {
      throw new IllegalArgumentException(
          "nodes plus spare nodes must be at most "
              + NODE_COUNT_MAX
              + ", not "
              + nodeCount
              + " + "
              + spareCount);
    }
    Objects.requireNonNull(repositoryRoot, "repositoryRoot");
    Objects.requireNonNull(storeDir, "storeDir");
    Objects.requireNonNull(clusterId, "clusterId");
    Objects.requireNonNull(healthTimeout, "healthTimeout");
    if (nodeCount < 1 || nodeCount > NODE_COUNT_MAX) {
      throw new IllegalArgumentException(
          "nodes must be between 1 and " + NODE_COUNT_MAX + ", not " + nodeCount);
    }
    // 127.0.0.1 is the machine's own loopback address; in another /24 .1 is free.
    int addressBaseMin = addressPrefix.equals(ADDRESS_PREFIX_DEFAULT) ? 1 : 0;
    if (addressBase < addressBaseMin || addressBase + nodeCount + spareCount > 254) {
      throw new IllegalArgumentException(
          "address base " + addressBase + " leaves " + addressPrefix + "x outside 2..254");
    }
    if (partitions < 1 || Integer.bitCount(partitions) != 1) {
      throw new IllegalArgumentException("partitions must be a power of two, not " + partitions);
    }
    if (replicationFactor < 1 || replicationFactor > nodeCount) {
      throw new IllegalArgumentException(
          "replication factor must be between 1 and the node count, not " + replicationFactor);
    }
  }

  /** Every node id, the spare ones included. */
  public int nodeIdMax() {
    return nodeCount + spareCount;
  }

  /** Whether {@code nodeId} is a spare: started later in join mode. */
  public boolean isSpare(int nodeId) {
    checkNode(nodeId);
    return nodeId > nodeCount;
  }

  /** The loopback address of node {@code nodeId} (1-based, spares included). */
  public String address(int nodeId) {
    checkNode(nodeId);
    return addressPrefix + (addressBase + nodeId);
  }

  /** The {@code --join} value of a spare node: every first node's client address. */
  public String joinFlag() {
    StringBuilder sb = new StringBuilder();
    for (int id = 1; id <= nodeCount; id++) {
      if (id > 1) {
        sb.append(',');
      }
      sb.append(address(id)).append(':').append(CLIENT_PORT);
    }
    return sb.toString();
  }

  /** The {@code --members} value naming every node. */
  public String membersFlag() {
    StringBuilder sb = new StringBuilder();
    for (int id = 1; id <= nodeCount; id++) {
      if (id > 1) {
        sb.append(',');
      }
      sb.append(id)
          .append('@')
          .append(address(id))
          .append(':')
          .append(CLIENT_PORT)
          .append(':')
          .append(PEER_PORT);
    }
    return sb.toString();
  }

  /** The directory holding node {@code nodeId}'s data directory and log. */
  public Path nodeDir(int nodeId) {
    checkNode(nodeId);
    return storeDir.resolve("n" + nodeId);
  }

  void checkNode(int nodeId) {
    if (nodeId < 1 || nodeId > nodeCount + spareCount) {
      throw new IllegalArgumentException(
          "no node " + nodeId + " in a cluster of " + nodeCount + " (+" + spareCount + " spare)");
    }
  }
}
