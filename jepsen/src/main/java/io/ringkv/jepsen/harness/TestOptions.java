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
    boolean unsafeStaleReads) {
  public static final List<String> WORKLOADS = List.of("register", "set");

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

  public TestOptions {
    Objects.requireNonNull(repositoryRoot, "repositoryRoot");
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
    requirePositive(opTimeout, "--op-timeout-ms");
    requirePositive(faultDuration, "--fault-seconds");
    requirePositive(healedDuration, "--healed-seconds");
    requirePositive(healthTimeout, "--health-timeout");
    requirePositive(checkTimeLimit, "--check-time-limit");
  }

  /** The cluster these options describe, storing into {@code runDir}. */
  ClusterSpec clusterSpec(Path runDir, String runId) {
    return new ClusterSpec(
        repositoryRoot,
        runDir,
        nodes,
        addressBase,
        partitions,
        Math.min(3, nodes),
        "ringkv-jepsen-" + runId,
        healthTimeout,
        unsafeStaleReads ? UNSAFE_STALE_READS_FLAGS : List.of());
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
