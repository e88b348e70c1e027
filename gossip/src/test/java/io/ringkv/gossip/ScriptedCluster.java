package io.ringkv.gossip;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Predicate;

/**
 * A few cores wired together for scripted tests: packets sent during a tick arrive on the next
 * tick, unless {@code dropRule} drops them. Every datagram is checked against the packet budget.
 */
final class ScriptedCluster {
  final Map<String, GossipCore> cores = new LinkedHashMap<>();
  final List<Packet> sent = new ArrayList<>();
  Predicate<Packet> dropRule = packet -> false;
  private List<Packet> inFlight = new ArrayList<>();

  ScriptedCluster(GossipSettings settings, long seed, String... ids) {
    SplittableRandom random = new SplittableRandom(seed);
    for (String id : ids) {
      cores.put(id, new GossipCore(id, id, settings, random.split()));
    }
    List<String> seeds = List.of(ids[0]);
    for (GossipCore core : cores.values()) {
      core.join(seeds);
    }
    collect();
  }

  GossipCore core(String id) {
    return cores.get(id);
  }

  void ticks(int count) {
    for (int index = 0; index < count; index++) {
      tick();
    }
  }

  void tick() {
    List<Packet> delivering = inFlight;
    inFlight = new ArrayList<>();
    for (Packet packet : delivering) {
      GossipCore receiver = cores.get(packet.toAddress());
      if (receiver != null && !dropRule.test(packet)) {
        receiver.receive(packet);
      }
    }
    for (GossipCore core : cores.values()) {
      core.tick();
    }
    collect();
  }

  private void collect() {
    for (GossipCore core : cores.values()) {
      for (Packet packet : core.drainOutgoing()) {
        if (!packet.message().reliable()) {
          int bytes = WireLimits.HEADER_BYTES_MAX;
          for (Update update : packet.message().updates()) {
            bytes += WireLimits.updateBytesBound(update);
          }
          Invariants.check(bytes <= WireLimits.PACKET_BYTES_MAX, "datagram bound %s", bytes);
        }
        sent.add(packet);
        inFlight.add(packet);
      }
    }
  }

  /** Ticks until {@code condition} holds, failing after {@code ticksMax}. */
  void ticksUntil(String what, int ticksMax, java.util.function.BooleanSupplier condition) {
    for (int index = 0; index < ticksMax; index++) {
      if (condition.getAsBoolean()) {
        return;
      }
      tick();
    }
    Invariants.check(condition.getAsBoolean(), "%s not reached within %s ticks", what, ticksMax);
  }

  boolean allSee(String memberId, MemberState state) {
    for (GossipCore core : cores.values()) {
      if (!core.selfId().equals(memberId) && core.stateOf(memberId) != state) {
        return false;
      }
    }
    return true;
  }
}
