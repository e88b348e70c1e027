package io.ringkv.jepsen.harness;

import io.ringkv.jepsen.checker.CheckLimits;
import io.ringkv.jepsen.harness.client.KvClientAdapter;
import io.ringkv.jepsen.harness.client.Outcome;
import io.ringkv.jepsen.history.Op;
import java.util.List;
import java.util.Random;

/**
 * A workload: what clients do during the test, what they read once everything is healed, and how
 * the history is checked. {@link #apply} returns the outcome whose value is the completion's {@code
 * :value} in the history.
 */
interface Workload {
  String name();

  Invocation next(Random random);

  Outcome apply(KvClientAdapter client, Invocation invocation);

  /** The reads of the final phase, for {@code nodeCount} nodes; each names the node to use. */
  List<FinalRead> finalReads(int nodeCount);

  List<CheckOutcome> check(List<Op> history, CheckLimits limits);

  /**
   * What runs beside the clients (the changefeed's consumers): started with the load, drained once
   * every fault is healed, before the final reads. None by default.
   */
  default Background background(BackgroundContext context) {
    return Background.NONE;
  }

  /** Work a workload runs beside its clients; every phase is bounded in time. */
  interface Background extends AutoCloseable {
    Background NONE =
        new Background() {
          @Override
          public void start() {}

          @Override
          public void drain() {}

          @Override
          public void close() {}
        };

    /** Starts with the clients' load. */
    void start();

    /** Called once the load has ended and every fault is healed; returns when it is done. */
    void drain() throws InterruptedException;

    /** Stops whatever still runs (also after a failed run); bounded. */
    @Override
    void close() throws InterruptedException;
  }

  /**
   * What background work may use: the history, the cluster's addresses, the run's seed and client
   * deadline, and a way to stop the run with a harness error.
   */
  record BackgroundContext(
      HistoryRecorder recorder,
      io.ringkv.jepsen.harness.cluster.ClusterSpec cluster,
      long seed,
      java.time.Duration opTimeout,
      java.util.function.Consumer<String> harnessError) {}

  /** A final-phase read sent through node {@code nodeId}. */
  record FinalRead(int nodeId, Invocation invocation) {}
}
