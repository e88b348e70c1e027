package io.ringkv.server.watch;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/** The changefeed's meters: one instance per node, shared by every stream. */
final class WatchMetrics {
  final AtomicInteger active = new AtomicInteger();
  final AtomicLong bufferedBytes = new AtomicLong();
  final Counter eventsSent;
  final Counter responsesSent;
  final Counter compacted;
  final Counter snapshotFallbacks;
  final Counter refusedWatchesMax;
  final Counter debugDroppedEvents;

  WatchMetrics(MeterRegistry registry) {
    Gauge.builder("ringkv.watch.active", active::get)
        .description("Watch streams open on this node")
        .register(registry);
    Gauge.builder("ringkv.watch.buffered.bytes", bufferedBytes::get)
        .description(
            "Bytes of Watch responses handed to the transport and not yet taken by slow"
                + " consumers, over all streams (each stream holds at most its buffer bound)")
        .register(registry);
    eventsSent = counter(registry, "ringkv.watch.events.sent", "Events delivered by Watch streams");
    responsesSent =
        counter(registry, "ringkv.watch.responses.sent", "Responses sent by Watch streams");
    compacted =
        counter(
            registry,
            "ringkv.watch.compacted",
            "Watch streams ended with COMPACTED (cursor older than retention)");
    snapshotFallbacks =
        counter(
            registry,
            "ringkv.watch.snapshot.fallbacks",
            "Partitions of Watch streams continued from a snapshot after their cursor was"
                + " compacted (on_compacted: SNAPSHOT)");
    refusedWatchesMax =
        counter(
            registry,
            "ringkv.watch.refused.watches.max",
            "Watch calls refused because watches-max streams were open");
    debugDroppedEvents =
        counter(
            registry,
            "ringkv.watch.debug.dropped.events",
            "Events dropped on purpose by the test-only debug-watch-drop-one-in switch");
  }

  private static Counter counter(MeterRegistry registry, String name, String description) {
    return Counter.builder(name).description(description).register(registry);
  }
}
