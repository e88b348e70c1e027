package io.ringkv.gossip;

import java.util.Locale;

/**
 * Gossip settings, every duration in ticks of {@code tickMillis}. The presets follow memberlist's:
 * {@code lan} probes every second with a 500 ms timeout through 3 helpers, gossips every 200 ms to
 * 3 members and pushes-pulls every 30 s; {@code wan} tolerates slower links; {@code local} detects
 * faster on one machine. The constructor rejects inconsistent values with a message that names
 * them.
 *
 * <p>Trade-offs: a shorter probe interval or timeout detects sooner but suspects slow members more
 * often; a larger suspicion multiplier gives a suspect longer to refute (fewer false positives,
 * slower detection); a larger retransmit multiplier spreads updates more reliably at the cost of
 * bandwidth; {@code awarenessMax} bounds how far a member that finds itself slow stretches its
 * probe period and timeout. The three Lifeguard switches exist so the simulation can run plain SWIM
 * beside Lifeguard; production keeps them on.
 *
 * @param tickMillis length of one tick; the adapter calls {@code tick()} at this period
 * @param probeIntervalTicks period between two probes of a healthy member
 * @param probeTimeoutTicks wait for a direct ack before asking helpers
 * @param indirectChecks helpers asked to probe the target when the direct ack is late
 * @param retransmitMultiplier an update is piggybacked this many times log10(n + 1) (rounded up)
 * @param suspicionMultiplier minimum suspicion timeout = this × max(1, log10 n) × probe interval
 * @param suspicionMaxTimeoutMultiplier maximum suspicion timeout = this × the minimum
 * @param awarenessMax probe period and timeout are stretched up to this factor
 * @param gossipIntervalTicks period between two gossip rounds
 * @param gossipNodes members sent piggybacked updates per gossip round
 * @param gossipToTheDeadTicks how long a dead member still receives gossip, so it can refute
 * @param pushPullIntervalTicks period between two full-state exchanges with a random member
 * @param broadcastQueueMax updates waiting to be piggybacked; beyond it the most-sent are dropped
 * @param localHealthAwareness Lifeguard: missed acks and nacks stretch own probe period and timeout
 * @param suspicionShrink Lifeguard: suspicion starts at the maximum and shrinks with independent
 *     confirmations; off means plain SWIM's fixed minimum timeout
 * @param buddySystem Lifeguard: a probe of a suspect carries the suspicion, so it refutes at once
 */
public record GossipSettings(
    int tickMillis,
    int probeIntervalTicks,
    int probeTimeoutTicks,
    int indirectChecks,
    int retransmitMultiplier,
    int suspicionMultiplier,
    int suspicionMaxTimeoutMultiplier,
    int awarenessMax,
    int gossipIntervalTicks,
    int gossipNodes,
    int gossipToTheDeadTicks,
    int pushPullIntervalTicks,
    int broadcastQueueMax,
    boolean localHealthAwareness,
    boolean suspicionShrink,
    boolean buddySystem) {

  /** The tick length of every preset. */
  public static final int TICK_MILLIS_DEFAULT = 50;

  public static final int TICK_MILLIS_MAX = 1_000;
  public static final int INDIRECT_CHECKS_MAX = 16;
  public static final int GOSSIP_NODES_MAX = 16;
  public static final int AWARENESS_MAX_MAX = 64;
  public static final int MULTIPLIER_MAX = 100;
  public static final int BROADCAST_QUEUE_MIN = 16;
  public static final int BROADCAST_QUEUE_MAX = 1 << 20;
  public static final int BROADCAST_QUEUE_DEFAULT = 4_096;

  public GossipSettings {
    require(tickMillis >= 1 && tickMillis <= TICK_MILLIS_MAX, "tickMillis", tickMillis);
    require(
        probeIntervalTicks >= 2, "probeIntervalTicks must be at least 2, was", probeIntervalTicks);
    require(
        probeTimeoutTicks >= 1 && probeTimeoutTicks < probeIntervalTicks,
        "probeTimeoutTicks must be at least 1 and below probeIntervalTicks ("
            + probeIntervalTicks
            + "), was",
        probeTimeoutTicks);
    require(
        indirectChecks >= 0 && indirectChecks <= INDIRECT_CHECKS_MAX,
        "indirectChecks must be 0 to " + INDIRECT_CHECKS_MAX + ", was",
        indirectChecks);
    require(multiplier(retransmitMultiplier), "retransmitMultiplier", retransmitMultiplier);
    require(multiplier(suspicionMultiplier), "suspicionMultiplier", suspicionMultiplier);
    require(
        multiplier(suspicionMaxTimeoutMultiplier),
        "suspicionMaxTimeoutMultiplier",
        suspicionMaxTimeoutMultiplier);
    require(
        awarenessMax >= 1 && awarenessMax <= AWARENESS_MAX_MAX,
        "awarenessMax must be 1 to " + AWARENESS_MAX_MAX + ", was",
        awarenessMax);
    require(
        gossipIntervalTicks >= 1 && gossipIntervalTicks <= probeIntervalTicks,
        "gossipIntervalTicks must be 1 to probeIntervalTicks (" + probeIntervalTicks + "), was",
        gossipIntervalTicks);
    require(
        gossipNodes >= 1 && gossipNodes <= GOSSIP_NODES_MAX,
        "gossipNodes must be 1 to " + GOSSIP_NODES_MAX + ", was",
        gossipNodes);
    require(
        gossipToTheDeadTicks >= 0,
        "gossipToTheDeadTicks must not be negative, was",
        gossipToTheDeadTicks);
    require(
        pushPullIntervalTicks >= probeIntervalTicks,
        "pushPullIntervalTicks must be at least probeIntervalTicks ("
            + probeIntervalTicks
            + "), was",
        pushPullIntervalTicks);
    require(
        broadcastQueueMax >= BROADCAST_QUEUE_MIN && broadcastQueueMax <= BROADCAST_QUEUE_MAX,
        "broadcastQueueMax must be " + BROADCAST_QUEUE_MIN + " to " + BROADCAST_QUEUE_MAX + ", was",
        broadcastQueueMax);
  }

  private static boolean multiplier(int value) {
    return value >= 1 && value <= MULTIPLIER_MAX;
  }

  private static void require(boolean condition, String what, long value) {
    if (!condition) {
      String message = what.contains(" ") ? what + " " + value : what + " out of range: " + value;
      throw new IllegalArgumentException("gossip settings: " + message);
    }
  }

  /** One LAN: memberlist's DefaultLANConfig in 50 ms ticks. */
  public static GossipSettings lan() {
    return new GossipSettings(
        TICK_MILLIS_DEFAULT,
        20,
        10,
        3,
        4,
        4,
        6,
        8,
        4,
        3,
        600,
        600,
        BROADCAST_QUEUE_DEFAULT,
        true,
        true,
        true);
  }

  /** Across data centres: memberlist's DefaultWANConfig in 50 ms ticks. */
  public static GossipSettings wan() {
    return new GossipSettings(
        TICK_MILLIS_DEFAULT,
        100,
        60,
        3,
        4,
        6,
        6,
        8,
        10,
        4,
        1_200,
        1_200,
        BROADCAST_QUEUE_DEFAULT,
        true,
        true,
        true);
  }

  /** One machine (loopback): memberlist's DefaultLocalConfig in 50 ms ticks. */
  public static GossipSettings local() {
    return new GossipSettings(
        TICK_MILLIS_DEFAULT,
        20,
        4,
        3,
        2,
        3,
        6,
        8,
        2,
        3,
        300,
        300,
        BROADCAST_QUEUE_DEFAULT,
        true,
        true,
        true);
  }

  /** The preset called {@code name} ({@code local}, {@code lan} or {@code wan}). */
  public static GossipSettings preset(String name) {
    return switch (name.toLowerCase(Locale.ROOT)) {
      case "local" -> local();
      case "lan" -> lan();
      case "wan" -> wan();
      default ->
          throw new IllegalArgumentException(
              "gossip preset must be local, lan or wan, was '" + name + "'");
    };
  }

  /** These settings with the three Lifeguard extensions off: plain SWIM, for comparison. */
  public GossipSettings plainSwim() {
    return new GossipSettings(
        tickMillis,
        probeIntervalTicks,
        probeTimeoutTicks,
        indirectChecks,
        retransmitMultiplier,
        suspicionMultiplier,
        suspicionMaxTimeoutMultiplier,
        awarenessMax,
        gossipIntervalTicks,
        gossipNodes,
        gossipToTheDeadTicks,
        pushPullIntervalTicks,
        broadcastQueueMax,
        false,
        false,
        false);
  }

  /** Times an update is piggybacked in a cluster of {@code memberCount}: about λ·log(n). */
  public int retransmitLimit(int memberCount) {
    return retransmitMultiplier * (int) Math.ceil(Math.log10(memberCount + 1.0));
  }

  /** Shortest suspicion timeout in ticks: plain SWIM's fixed timeout. */
  public long suspicionMinTicks(int memberCount) {
    double nodeScale = Math.max(1.0, Math.log10(Math.max(1, memberCount)));
    return (long) Math.ceil(suspicionMultiplier * nodeScale * probeIntervalTicks);
  }

  /** Longest suspicion timeout in ticks, where Lifeguard starts before confirmations arrive. */
  public long suspicionMaxTicks(int memberCount) {
    return suspicionMaxTimeoutMultiplier * suspicionMinTicks(memberCount);
  }
}
