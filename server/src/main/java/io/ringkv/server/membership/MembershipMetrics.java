package io.ringkv.server.membership;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The membership meters of the node that coordinates moves (the meta leader): moves started and
 * finished by why they exist, bytes moved, and, from the newest map it read, moves in progress and
 * under-replicated partitions. Counters count on the coordinator that saw the event, so a cluster
 * total is the sum over nodes.
 */
public final class MembershipMetrics {
  /** Why a move exists, as a metric tag. */
  public enum Why {
    JOIN("join"),
    DECOMMISSION("decommission"),
    REPLACEMENT("replacement"),
    UNDER_REPLICATED("under-replicated"),
    META("meta");

    final String tag;

    Why(String tag) {
      this.tag = tag;
    }
  }

  private final MeterRegistry registry;
  private final AtomicInteger movesInProgress = new AtomicInteger();
  private final AtomicInteger underReplicatedPartitions = new AtomicInteger();
  private final Counter bytesMoved;
  private final Counter casLost;

  public MembershipMetrics(MeterRegistry registry) {
    this.registry = registry;
    Gauge.builder("ringkv.membership.moves.in.progress", movesInProgress::get)
        .description("Replica moves recorded in the newest cluster map this coordinator read")
        .register(registry);
    Gauge.builder("ringkv.membership.under.replicated.partitions", underReplicatedPartitions::get)
        .description(
            "Partitions whose map voters, not counting REMOVED members, are fewer than the"
                + " replication factor")
        .register(registry);
    bytesMoved =
        Counter.builder("ringkv.membership.moved.bytes")
            .description("Estimated data bytes of finished moves that created a replica")
            .register(registry);
    casLost =
        Counter.builder("ringkv.membership.map.writes.lost")
            .description(
                "Cluster map writes that lost their compare-and-set (another writer came first);"
                    + " the round is redone")
            .register(registry);
  }

  void moveStarted(Why why) {
    counter("ringkv.membership.moves.started", "Replica moves started", why).increment();
  }

  void moveFinished(Why why, long bytesEstimate) {
    counter("ringkv.membership.moves.finished", "Replica moves finished", why).increment();
    bytesMoved.increment(bytesEstimate);
  }

  void mapWriteLost() {
    casLost.increment();
  }

  void observe(int inProgress, int underReplicated) {
    movesInProgress.set(inProgress);
    underReplicatedPartitions.set(underReplicated);
  }

  private Counter counter(String name, String description, Why why) {
    return Counter.builder(name).description(description).tag("why", why.tag).register(registry);
  }
}
