package io.ringkv.jepsen.harness;

import io.ringkv.jepsen.harness.cluster.ClusterSpec;
import io.ringkv.jepsen.harness.nemesis.Nemeses;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/** Everything one test run needs, validated up front. */
public record TestOptions(
    String workload,
    String nemesis,
    int nodes,
    Duration timeLimit,
    int concurrency,
    double rate,
    int keys,
    long seed,
    int addressBase,
    int partitions,
    Duration opTimeout,
    Duration faultDuration,
    Duration healedDuration,
    Duration healthTimeout,
    Duration checkTimeLimit,
    Path repositoryRoot,
    Path storeRoot,
    boolean unsafeStaleReads,
    int consumers,
    Duration streamLifetimeMax,
    int debugWatchDropOneIn,
    int spareNodes,
    String addressPrefix,
    boolean debugMoveSkipSnapshotData,
    boolean debugUnsyncedWrites) {
  public static final List<String> WORKLOADS = List.of("register", "set", "changefeed");

  /** The most changefeed consumers a run may have. */
  public static final int CONSUMERS_MAX = 32;

  /**
   * The node setting of {@code --debug-watch-drop-one-in}: drop every N-th event a stream sends.
   */
  public static final String DEBUG_WATCH_DROP_ONE_IN_FLAG = "--debug-watch-drop-one-in";

  /** The most client threads a run may use. */
  public static final int CONCURRENCY_MAX = 256;

  /** The longest run allowed; a longer one is a typo. */
  public static final Duration TIME_LIMIT_MAX = Duration.ofHours(24);

  /**
   * The node flags of {@code --unsafe-stale-reads}: the node's debug switch that serves
   * linearizable reads from any replica without ReadIndex, and the flag that permits it.
   */
  public static final List<String> UNSAFE_STALE_READS_FLAGS =
      List.of("--debug-unsafe-stale-reads", "true", "--allow-unsafe-debug", "true");

  /** The node flags that permit a debug switch. */
  static final List<String> ALLOW_UNSAFE_DEBUG_FLAGS = List.of("--allow-unsafe-debug", "true");

  /**
   * The node setting of {@code --debug-move-skip-snapshot-data}: a replica that receives a snapshot
   * installs its metadata but not its data (a planted bug the membership nemesis must expose).
   */
  public static final List<String> DEBUG_MOVE_SKIP_SNAPSHOT_DATA_FLAGS =
      List.of("--debug-move-skip-snapshot-data", "true");

  /**
   * The node setting of {@code --debug-unsynced-writes}: storage writes are acknowledged while they
   * are still in the node's memory (a planted bug the crash-all nemesis must expose).
   */
  public static final List<String> DEBUG_UNSYNCED_WRITES_FLAGS =
      List.of("--debug-unsynced-writes", "true");

  public TestOptions {
    Objects.requireNonNull(repositoryRoot, "repositoryRoot");
    Objects.requireNonNull(addressPrefix, "addressPrefix");
    if (spareNodes < 0 || nodes + spareNodes > ClusterSpec.NODE_COUNT_MAX) {
      throw new IllegalArgumentException(
          "--nodes plus --spare-nodes must be at most "
              + ClusterSpec.NODE_COUNT_MAX
              + ", not "
              + nodes
              + " + "
              + spareNodes);
    }
    if (nemesis.equals("membership") && spareNodes == 0) {
      throw new IllegalArgumentException("--nemesis membership needs --spare-nodes of 1 or more");
    }
    Objects.requireNonNull(storeRoot, "storeRoot");
    if (!WORKLOADS.contains(workload)) {
      throw new IllegalArgumentException(
          "unknown workload '" + workload + "'; known: " + WORKLOADS);
    }
    if (!Nemeses.NAMES.contains(nemesis)) {
      throw new IllegalArgumentException(
          "unknown nemesis '" + nemesis + "'; known: " + Nemeses.NAMES);
    }
    if (nodes < 1 || nodes > ClusterSpec.NODE_COUNT_MAX) {
      throw new IllegalArgumentException(
          "--nodes must be 1.." + ClusterSpec.NODE_COUNT_MAX + ", not " + nodes);
    }
    requirePositive(timeLimit, "--time-limit");
    if (timeLimit.compareTo(TIME_LIMIT_MAX) > 0) {
      throw new IllegalArgumentException("--time-limit above " + TIME_LIMIT_MAX);
    }
    if (concurrency < 1 || concurrency > CONCURRENCY_MAX) {
      throw new IllegalArgumentException(
          "--concurrency must be 1.." + CONCURRENCY_MAX + ", not " + concurrency);
    }
    if (!(rate > 0) || Double.isInfinite(rate)) {
      throw new IllegalArgumentException("--rate must be a positive number, not " + rate);
    }
    if (keys < 1) {
      throw new IllegalArgumentException("--keys must be positive, not " + keys);
    }
    if (consumers < 1 || consumers > CONSUMERS_MAX) {
      throw new IllegalArgumentException(
          "--consumers must be 1.." + CONSUMERS_MAX + ", not " + consumers);
    }
    requirePositive(streamLifetimeMax, "--stream-seconds");
    if (streamLifetimeMax.compareTo(ChangefeedConsumers.STREAM_LIFETIME_MIN) <= 0) {
      throw new IllegalArgumentException(
          "--stream-seconds must be above " + ChangefeedConsumers.STREAM_LIFETIME_MIN);
    }
    if (debugWatchDropOneIn < 0) {
      throw new IllegalArgumentException(
          "--debug-watch-drop-one-in must be 0 (off) or positive, not " + debugWatchDropOneIn);
    }
    requirePositive(opTimeout, "--op-timeout-ms");
    requirePositive(faultDuration, "--fault-seconds");
    requirePositive(healedDuration, "--healed-seconds");
    requirePositive(healthTimeout, "--health-timeout");
    requirePositive(checkTimeLimit, "--check-time-limit");
  }

  /** The cluster these options describe, storing into {@code runDir}. */
  ClusterSpec clusterSpec(Path runDir, String runId) {
    List<String> flags = new java.util.ArrayList<>();
    if (unsafeStaleReads) {
      flags.addAll(UNSAFE_STALE_READS_FLAGS);
    }
    if (debugWatchDropOneIn > 0) {
      flags.addAll(List.of(DEBUG_WATCH_DROP_ONE_IN_FLAG, Integer.toString(debugWatchDropOneIn)));
    }
    if (debugMoveSkipSnapshotData) {
      flags.addAll(DEBUG_MOVE_SKIP_SNAPSHOT_DATA_FLAGS);
    }
    if (debugUnsyncedWrites) {
      flags.addAll(DEBUG_UNSYNCED_WRITES_FLAGS);
    }
    if (!unsafeStaleReads
        && (debugWatchDropOneIn > 0 || debugMoveSkipSnapshotData || debugUnsyncedWrites)) {
      flags.addAll(ALLOW_UNSAFE_DEBUG_FLAGS);
    }
    return new ClusterSpec(
        repositoryRoot,
        runDir,
        nodes,
        addressBase,
        partitions,
        Math.min(3, nodes),
        "ringkv-jepsen-" + runId,
        healthTimeout,
        flags,
        spareNodes,
        addressPrefix);
  }

  /** The test's name, its folder under the store: e.g. {@code register-partition}. */
  public String testName() {
    return workload + "-" + nemesis;
  }

  private static void requirePositive(Duration duration, String name) {
    if (duration == null || duration.isNegative() || duration.isZero()) {
      throw new IllegalArgumentException(name + " must be positive");
    }
  }
}
