package io.ringkv.server.config;

import java.util.List;

/**
 * How a node enters the cluster and how fast the meta leader moves replicas.
 *
 * @param join client addresses of running members; non-empty means this node starts empty (no
 *     replicas, no bootstrap from {@code members}), learns the cluster map from one of them, and
 *     waits to be added with {@code ringctl cluster join}
 * @param rebalanceMovesConcurrentMax replica moves the meta leader runs at once, cluster-wide
 * @param rebalanceBytesPerSecondMax snapshot bytes per second one node sends for replica moves
 * @param deadNodeReplaceAfterMillis a member gossip has held dead this long has its replicas
 *     re-created on the ring's next owners (0 = never: only {@code remove --dead} does it)
 * @param debugMoveSkipSnapshotData UNSAFE planted bug (only with allow-unsafe-debug): a received
 *     snapshot installs its metadata but not its data
 */
public record MembershipSettings(
    List<HostPort> join,
    int rebalanceMovesConcurrentMax,
    long rebalanceBytesPerSecondMax,
    long deadNodeReplaceAfterMillis,
    boolean debugMoveSkipSnapshotData) {
  /**
   * One move at a time and 1 MiB/s per sending node: measured on 2 shared cores
   * (docs/benchmarks.md, "Membership"), 1 MiB/s kept a foreground p99 within 2x of its value
   * without moves, while 2 MiB/s (2.4x), 4 MiB/s (2.1x) or two moves at once (3.5x) did not. An
   * operator who can spare the latency raises both: a join then takes a fraction of the time.
   */
  public static final int REBALANCE_MOVES_CONCURRENT_MAX_DEFAULT = 1;

  public static final long REBALANCE_BYTES_PER_SECOND_MAX_DEFAULT = 1024L * 1024;

  /** Ten minutes: far past a restart or a GC pause, well before a second failure is likely. */
  public static final long DEAD_NODE_REPLACE_AFTER_MILLIS_DEFAULT = 10 * 60 * 1000L;

  public static final MembershipSettings DEFAULTS =
      new MembershipSettings(
          List.of(),
          REBALANCE_MOVES_CONCURRENT_MAX_DEFAULT,
          REBALANCE_BYTES_PER_SECOND_MAX_DEFAULT,
          DEAD_NODE_REPLACE_AFTER_MILLIS_DEFAULT);

  /** Safe settings (the planted bug off). */
  public MembershipSettings(
      List<HostPort> join,
      int rebalanceMovesConcurrentMax,
      long rebalanceBytesPerSecondMax,
      long deadNodeReplaceAfterMillis) {
    this(
        join,
        rebalanceMovesConcurrentMax,
        rebalanceBytesPerSecondMax,
        deadNodeReplaceAfterMillis,
        false);
  }

  public MembershipSettings {
    join = List.copyOf(join);
    if (rebalanceMovesConcurrentMax < 1) {
      throw new ConfigException(
          "rebalance-moves-concurrent-max", "must be >= 1, got " + rebalanceMovesConcurrentMax);
    }
    if (rebalanceBytesPerSecondMax < 1) {
      throw new ConfigException(
          "rebalance-bytes-per-second-max", "must be >= 1, got " + rebalanceBytesPerSecondMax);
    }
    if (deadNodeReplaceAfterMillis < 0) {
      throw new ConfigException(
          "dead-node-replace-after-millis", "must be >= 0, got " + deadNodeReplaceAfterMillis);
    }
  }

  /** Whether this node starts empty and waits to be added. */
  public boolean joining() {
    return !join.isEmpty();
  }
}
