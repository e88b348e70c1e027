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

  /** A final-phase read sent through node {@code nodeId}. */
  record FinalRead(int nodeId, Invocation invocation) {}
}
