package io.ringkv.server.gossip;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.ringkv.gossip.GossipCounters;
import io.ringkv.gossip.MemberState;
import java.util.Locale;
import java.util.function.ToDoubleFunction;

/**
 * Registers a node's gossip meters: members by state as this node sees them, its Lifeguard health
 * score, the core's counters (probes, indirect probes, suspicions, refutations, members declared
 * dead, broadcast overflow), datagrams and push-pull envelopes dropped by reason (foreign_cluster,
 * malformed, oversize, unauthenticated) and the gossip key file's reloads. Meters read the
 * transport's latest published status, so a scrape never waits for the gossip thread. Micrometer
 * holds the transport weakly (a collected one reads as NaN): its owner, the node, keeps it.
 */
public final class GossipMetrics {
  private GossipMetrics() {}

  public static void register(MeterRegistry registry, GossipTransport transport) {
    for (MemberState state : MemberState.values()) {
      Gauge.builder(
              "ringkv.gossip.members",
              transport,
              source ->
                  source.latestStatus().members().stream()
                      .filter(member -> member.view().state() == state)
                      .count())
          .description("members as this node's gossip sees them, by state")
          .tag("state", state.name().toLowerCase(Locale.ROOT))
          .register(registry);
    }
    Gauge.builder(
            "ringkv.gossip.local.health",
            transport,
            source -> source.latestStatus().localHealthScore())
        .description("Lifeguard local health score: 0 is healthy, up to awareness-max - 1")
        .register(registry);
    counter(registry, transport, "probes", "direct probes sent", GossipCounters::probes);
    counter(
        registry,
        transport,
        "indirect.probes",
        "ping requests sent",
        GossipCounters::indirectProbes);
    counter(
        registry,
        transport,
        "suspicions",
        "members this node suspected",
        GossipCounters::suspicions);
    counter(
        registry,
        transport,
        "refutations",
        "suspicions of this node that it refuted",
        GossipCounters::refutations);
    counter(
        registry,
        transport,
        "declared.dead",
        "members whose suspicion timed out here",
        GossipCounters::declaredDead);
    counter(
        registry,
        transport,
        "broadcast.overflow",
        "updates dropped from the full broadcast queue",
        GossipCounters::broadcastOverflow);
    dropped(registry, transport, "foreign_cluster", t -> t.foreignClusterDropped());
    dropped(registry, transport, "malformed", t -> t.malformedDropped());
    dropped(registry, transport, "oversize", t -> t.oversizeDropped());
    dropped(registry, transport, "unauthenticated", t -> t.unauthenticatedDropped());
  }

  /** Reloads of the gossip key file, and changes of it that did not load. */
  public static void register(MeterRegistry registry, GossipKeyFile keyFile) {
    FunctionCounter.builder("ringkv.gossip.key.reloads", keyFile, GossipKeyFile::reloads)
        .description("gossip key file reloaded after it changed")
        .register(registry);
    FunctionCounter.builder(
            "ringkv.gossip.key.reload.failures", keyFile, GossipKeyFile::reloadFailures)
        .description("changes of the gossip key file that did not load (the old keys stay)")
        .register(registry);
  }

  private static void counter(
      MeterRegistry registry,
      GossipTransport transport,
      String name,
      String description,
      ToDoubleFunction<GossipCounters> value) {
    FunctionCounter.builder(
            "ringkv.gossip." + name,
            transport,
            source -> value.applyAsDouble(source.latestStatus().counters()))
        .description(description)
        .register(registry);
  }

  private static void dropped(
      MeterRegistry registry,
      GossipTransport transport,
      String reason,
      ToDoubleFunction<GossipTransport.TransportCounters> value) {
    FunctionCounter.builder(
            "ringkv.gossip.datagrams.dropped",
            transport,
            source -> value.applyAsDouble(source.latestStatus().transport()))
        .description("gossip datagrams and push-pull envelopes dropped on receipt, by reason")
        .tag("reason", reason)
        .register(registry);
  }
}
