package io.ringkv.gossip;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.random.RandomGenerator;

/**
 * SWIM failure detection with the Lifeguard extensions, as a pure state machine: it takes ticks and
 * packets and hands back packets to send and member events, with no thread, clock, socket or
 * randomness of its own (the random source is injected, so one seed gives one run).
 *
 * <p>Every probe period the member pings the next member of a shuffled round: if no ack comes
 * within the probe timeout it asks {@code indirectChecks} helpers to ping the target for it, and if
 * still nothing has come at the end of the period it suspects the target. A suspect that hears of
 * its suspicion refutes it by raising its incarnation; a suspicion that times out declares the
 * member dead. Updates ride on every datagram, each about λ·log(n) times, and a periodic push-pull
 * of the whole member list repairs what gossip lost (and reunites the two sides of a healed
 * partition, which is why dead members stay candidates for it).
 *
 * <p>Lifeguard: a member that misses acks, or misses the nacks its helpers owe it, concludes that
 * it may be the slow one and stretches its probe period and timeout (up to {@code awarenessMax}
 * times), and so does a member that has to refute a suspicion; a suspicion starts at its longest
 * timeout and shrinks as other members independently confirm it; a probe of a suspect carries the
 * suspicion (the buddy system), so a live suspect refutes on the next probe.
 *
 * <p>Not thread-safe: the adapter calls every method from one thread.
 */
public final class GossipCore {
  /** Ping requests a helper serves at once; more are refused and counted. */
  public static final int RELAYS_MAX = 1_024;

  /** Attempts to draw a random eligible member before giving up for this round. */
  private static final int RANDOM_DRAWS_MAX = 64;

  /** Deliberately broken behaviours that the simulation must catch. Never set in production. */
  enum UnsafeMode {
    NONE,
    /** A member never refutes a suspicion or death notice about itself. */
    NO_REFUTATION,
    /** A failed direct probe goes straight to suspicion, without helpers. */
    NO_INDIRECT_PROBES
  }

  private static final class MemberRecord {
    final String id;
    String address;
    MemberState state;
    long incarnation;
    long stateChangeTick;
    long lastHeardTick = -1;
    boolean degraded;

    MemberRecord(String id, String address, MemberState state, long incarnation, long tick) {
      this.id = id;
      this.address = address;
      this.state = state;
      this.incarnation = incarnation;
      this.stateChangeTick = tick;
    }

    boolean probeable() {
      return state == MemberState.ALIVE || state == MemberState.SUSPECT;
    }
  }

  private static final class Probe {
    final String targetId;
    final long sequence;
    final long timeoutTick;
    final long endTick;
    boolean indirectSent;
    int nacksExpected;
    int nacksReceived;

    Probe(String targetId, long sequence, long timeoutTick, long endTick) {
      this.targetId = targetId;
      this.sequence = sequence;
      this.timeoutTick = timeoutTick;
      this.endTick = endTick;
    }
  }

  private record Relay(String requesterAddress, long requesterSequence, long nackTick) {}

  private final String selfId;
  private final String selfAddress;
  private final GossipSettings settings;
  private final RandomGenerator random;
  private final BroadcastQueue broadcasts;
  private final Map<String, MemberRecord> members = new HashMap<>();
  private final List<String> memberIds = new ArrayList<>();
  private final Map<String, Suspicion> suspicions = new LinkedHashMap<>();
  private final Map<Long, Relay> relays = new LinkedHashMap<>();
  private final List<String> probeRound = new ArrayList<>();
  private final List<String> seeds = new ArrayList<>();
  private final List<Packet> outgoing = new ArrayList<>();
  private final List<MemberEvent> events = new ArrayList<>();
  private UnsafeMode unsafeMode = UnsafeMode.NONE;

  private long now;
  private long incarnation;
  private boolean left;
  private boolean degraded;
  private int awarenessScore;
  private int probeableCount;
  private int probeRoundIndex;
  private Probe probe;
  private long nextProbeTick;
  private long nextGossipTick;
  private long nextPushPullTick;
  private long nextSequence = 1;

  private long probeCount;
  private long indirectProbeCount;
  private long nackSentCount;
  private long suspicionCount;
  private long refutationCount;
  private long declaredDeadCount;
  private long relaysDroppedCount;

  public GossipCore(
      String selfId, String selfAddress, GossipSettings settings, RandomGenerator random) {
    WireLimits.checkMemberId(selfId);
    WireLimits.checkAddress(selfAddress);
    this.selfId = selfId;
    this.selfAddress = selfAddress;
    this.settings = settings;
    this.random = random;
    this.broadcasts = new BroadcastQueue(settings.broadcastQueueMax());
    // Random phases, so members started together do not probe and gossip in lockstep.
    this.nextProbeTick = 1 + random.nextInt(settings.probeIntervalTicks());
    this.nextGossipTick = 1 + random.nextInt(settings.gossipIntervalTicks());
    this.nextPushPullTick = 1 + random.nextInt(settings.pushPullIntervalTicks());
  }

  void setUnsafeMode(UnsafeMode mode) {
    this.unsafeMode = mode;
  }

  // ---- inputs

  /**
   * Asks each seed for its member list; the answers make this member known to the cluster. While
   * this member knows no live member, its push-pull goes to a seed again, so a member started
   * before its seeds, or cut off from them for a while, still joins.
   */
  public void join(List<String> seedAddresses) {
    seeds.clear();
    seeds.addAll(seedAddresses);
    seeds.remove(selfAddress);
    for (String seed : seedAddresses) {
      if (!seed.equals(selfAddress)) {
        send(seed, new Message.PushPull(false, fullState()));
      }
    }
  }

  /** Announces that this member leaves; it stops probing and only spreads the news. */
  public void leave() {
    if (left) {
      return;
    }
    left = true;
    incarnation++;
    broadcasts.add(new Update(selfId, selfAddress, MemberState.LEFT, incarnation, selfId));
    probe = null;
  }

  /**
   * Tells the cluster whether this member is slow (the adapter decides; the core only spreads it).
   * A change raises the incarnation, so the new word overrides the old one everywhere.
   */
  public void setDegraded(boolean value) {
    if (left || value == degraded) {
      return;
    }
    degraded = value;
    incarnation++;
    broadcasts.add(selfAlive());
  }

  public boolean degraded() {
    return degraded;
  }

  /** Advances time by one tick: timers fire and periodic work is due. */
  public void tick() {
    now++;
    expireRelays();
    if (!left) {
      stepProbe();
      expireSuspicions();
    }
    if (now >= nextGossipTick) {
      nextGossipTick = now + settings.gossipIntervalTicks();
      gossip();
    }
    if (!left && now >= nextPushPullTick) {
      nextPushPullTick = now + settings.pushPullIntervalTicks();
      pushPull();
    }
  }

  /** Handles one packet addressed to this member. */
  public void receive(Packet packet) {
    MemberRecord sender = members.get(packet.fromId());
    if (sender != null) {
      sender.lastHeardTick = now;
      if (sender.state == MemberState.DEAD) {
        // A member we hold dead is talking to us: tell it, so it refutes with a higher incarnation.
        // Without this, two sides of a long partition would wait for push-pull to meet pairwise.
        send(
            packet.fromAddress(),
            new Message.Gossip(
                List.of(
                    new Update(
                        sender.id, sender.address, MemberState.DEAD, sender.incarnation, selfId))));
      }
    }
    if (packet.message() instanceof Message.PushPull pushPull) {
      merge(pushPull.updates(), packet.fromId());
      if (!pushPull.response()) {
        send(packet.fromAddress(), new Message.PushPull(true, fullState()));
      }
      return;
    }
    for (Update update : packet.message().updates()) {
      apply(update);
    }
    switch (packet.message()) {
      case Message.Ping ping -> {
        if (ping.targetId().equals(selfId)) {
          send(packet.fromAddress(), new Message.Ack(ping.sequence(), piggyback()));
        }
      }
      case Message.Ack ack -> onAck(ack.sequence());
      case Message.Nack nack -> {
        if (probe != null && nack.sequence() == probe.sequence) {
          probe.nacksReceived++;
        }
      }
      case Message.PingRequest request -> relay(packet.fromAddress(), request);
      case Message.Gossip gossip -> {}
      case Message.PushPull pushPull -> throw new IllegalStateException("handled above");
    }
  }

  // ---- outputs

  /** Packets to send since the last call, in order. */
  public List<Packet> drainOutgoing() {
    List<Packet> drained = List.copyOf(outgoing);
    outgoing.clear();
    return drained;
  }

  /** Member events since the last call, in order. */
  public List<MemberEvent> drainEvents() {
    List<MemberEvent> drained = List.copyOf(events);
    events.clear();
    return drained;
  }

  // ---- status

  public String selfId() {
    return selfId;
  }

  public long now() {
    return now;
  }

  public long incarnation() {
    return incarnation;
  }

  /** Lifeguard's local health score: 0 is healthy, up to {@code awarenessMax - 1}. */
  public int localHealthScore() {
    return awarenessScore;
  }

  /** State of {@code memberId} as seen here, or null if unknown. */
  public MemberState stateOf(String memberId) {
    if (memberId.equals(selfId)) {
      return left ? MemberState.LEFT : MemberState.ALIVE;
    }
    MemberRecord member = members.get(memberId);
    return member == null ? null : member.state;
  }

  /** Every known member, this one included, in the order they became known. */
  public List<MemberView> members() {
    List<MemberView> views = new ArrayList<>(memberIds.size() + 1);
    views.add(new MemberView(selfId, selfAddress, stateOf(selfId), incarnation, now, degraded));
    for (String id : memberIds) {
      MemberRecord m = members.get(id);
      views.add(
          new MemberView(m.id, m.address, m.state, m.incarnation, m.lastHeardTick, m.degraded));
    }
    return views;
  }

  public GossipCounters counters() {
    return new GossipCounters(
        probeCount,
        indirectProbeCount,
        nackSentCount,
        suspicionCount,
        refutationCount,
        declaredDeadCount,
        broadcasts.overflowCount(),
        relaysDroppedCount);
  }

  /** Updates waiting to be piggybacked. */
  public int broadcastQueueSize() {
    return broadcasts.size();
  }

  // ---- probing

  private void stepProbe() {
    if (probe != null) {
      if (!probe.indirectSent && now >= probe.timeoutTick) {
        probe.indirectSent = true;
        sendPingRequests(probe);
      }
      if (now >= probe.endTick) {
        finishFailedProbe(probe);
        probe = null;
      }
      return;
    }
    if (now < nextProbeTick) {
      return;
    }
    MemberRecord target = nextProbeTarget();
    long periodTicks = scaled(settings.probeIntervalTicks());
    nextProbeTick = now + periodTicks;
    if (target == null) {
      return;
    }
    long sequence = nextSequence++;
    List<Update> updates = new ArrayList<>();
    int budget = WireLimits.UPDATE_BUDGET_BYTES;
    if (target.state == MemberState.SUSPECT && settings.buddySystem()) {
      // The buddy system: the suspect learns of its suspicion from this very probe.
      Update suspicion =
          new Update(target.id, target.address, MemberState.SUSPECT, target.incarnation, selfId);
      updates.add(suspicion);
      budget -= WireLimits.updateBytesBound(suspicion);
    }
    updates.addAll(broadcasts.take(budget, retransmitLimit()));
    probeCount++;
    send(target.address, new Message.Ping(sequence, target.id, updates));
    probe =
        new Probe(
            target.id, sequence, now + scaled(settings.probeTimeoutTicks()), now + periodTicks);
  }

  private MemberRecord nextProbeTarget() {
    for (int attempt = 0; attempt < 2; attempt++) {
      while (probeRoundIndex < probeRound.size()) {
        MemberRecord candidate = members.get(probeRound.get(probeRoundIndex++));
        if (candidate.probeable()) {
          return candidate;
        }
      }
      // A new round: every member once, in a fresh random order (SWIM's bounded detection time).
      probeRound.clear();
      probeRound.addAll(memberIds);
      for (int index = probeRound.size() - 1; index > 0; index--) {
        int other = random.nextInt(index + 1);
        probeRound.set(index, probeRound.set(other, probeRound.get(index)));
      }
      probeRoundIndex = 0;
    }
    return null;
  }

  private void sendPingRequests(Probe current) {
    if (unsafeMode == UnsafeMode.NO_INDIRECT_PROBES) {
      return;
    }
    MemberRecord target = members.get(current.targetId);
    List<MemberRecord> helpers =
        randomMembers(settings.indirectChecks(), m -> m.state == MemberState.ALIVE && m != target);
    for (MemberRecord helper : helpers) {
      indirectProbeCount++;
      send(
          helper.address,
          new Message.PingRequest(current.sequence, target.id, target.address, piggyback()));
    }
    current.nacksExpected = helpers.size();
  }

  private void onAck(long sequence) {
    if (probe != null && sequence == probe.sequence) {
      probe = null;
      adjustAwareness(-1);
      return;
    }
    Relay relay = relays.remove(sequence);
    if (relay != null) {
      send(relay.requesterAddress(), new Message.Ack(relay.requesterSequence(), piggyback()));
    }
  }

  private void finishFailedProbe(Probe failed) {
    // Helpers owe a nack when the target is silent; a missing nack means this member is slow.
    int missedNacks = failed.nacksExpected - failed.nacksReceived;
    adjustAwareness(failed.nacksExpected > 0 ? Math.max(0, missedNacks) : 1);
    MemberRecord target = members.get(failed.targetId);
    if (target != null && target.probeable()) {
      // Suspecting a suspect again counts as this member's independent confirmation.
      suspicionCount += target.state == MemberState.ALIVE ? 1 : 0;
      apply(new Update(target.id, target.address, MemberState.SUSPECT, target.incarnation, selfId));
    }
  }

  private void relay(String requesterAddress, Message.PingRequest request) {
    if (relays.size() >= RELAYS_MAX) {
      relaysDroppedCount++;
      return;
    }
    long sequence = nextSequence++;
    relays.put(
        sequence,
        new Relay(requesterAddress, request.sequence(), now + settings.probeTimeoutTicks()));
    send(request.targetAddress(), new Message.Ping(sequence, request.targetId(), piggyback()));
  }

  private void expireRelays() {
    Iterator<Relay> iterator = relays.values().iterator();
    while (iterator.hasNext()) {
      Relay relay = iterator.next();
      if (relay.nackTick() > now) {
        break; // inserted in deadline order
      }
      iterator.remove();
      nackSentCount++;
      send(relay.requesterAddress(), new Message.Nack(relay.requesterSequence(), piggyback()));
    }
  }

  private void adjustAwareness(int delta) {
    if (!settings.localHealthAwareness()) {
      return;
    }
    awarenessScore = Math.clamp(awarenessScore + delta, 0, settings.awarenessMax() - 1);
  }

  private long scaled(int ticks) {
    return (long) ticks * (awarenessScore + 1);
  }

  // ---- suspicion and state changes

  private void expireSuspicions() {
    List<String> expired = new ArrayList<>();
    for (Map.Entry<String, Suspicion> entry : suspicions.entrySet()) {
      if (entry.getValue().deadlineTick() <= now) {
        expired.add(entry.getKey());
      }
    }
    for (String id : expired) {
      MemberRecord member = members.get(id);
      Invariants.check(
          member.state == MemberState.SUSPECT, "suspicion timer on %s in %s", id, member.state);
      declaredDeadCount++;
      apply(new Update(id, member.address, MemberState.DEAD, member.incarnation, selfId));
    }
  }

  private void apply(Update update) {
    if (update.memberId().equals(selfId)) {
      applyAboutSelf(update);
      return;
    }
    MemberRecord member = members.get(update.memberId());
    switch (update.state()) {
      case ALIVE -> applyAlive(member, update);
      case SUSPECT -> applySuspect(member, update);
      case DEAD, LEFT -> applyGone(member, update);
    }
  }

  private void applyAlive(MemberRecord member, Update update) {
    if (member == null) {
      MemberRecord added =
          new MemberRecord(
              update.memberId(), update.address(), MemberState.ALIVE, update.incarnation(), now);
      added.degraded = update.degraded();
      members.put(added.id, added);
      memberIds.add(added.id);
      probeableCount++;
      // Probe the newcomer in this round too, at a random place among those not yet probed.
      int place = probeRoundIndex + random.nextInt(probeRound.size() - probeRoundIndex + 1);
      probeRound.add(place, added.id);
      events.add(new MemberEvent(MemberEvent.Kind.JOINED, added.id, added.incarnation, now));
      broadcasts.add(update);
      return;
    }
    if (update.incarnation() <= member.incarnation) {
      return;
    }
    MemberState previous = member.state;
    member.incarnation = update.incarnation();
    member.address = update.address();
    member.degraded = update.degraded();
    setState(member, MemberState.ALIVE);
    suspicions.remove(member.id);
    if (previous != MemberState.ALIVE) {
      events.add(new MemberEvent(MemberEvent.Kind.ALIVE, member.id, member.incarnation, now));
    }
    broadcasts.add(update);
  }

  private void applySuspect(MemberRecord member, Update update) {
    if (member == null
        || update.incarnation() < member.incarnation
        || member.state == MemberState.DEAD
        || member.state == MemberState.LEFT) {
      return;
    }
    Suspicion existing = suspicions.get(member.id);
    if (member.state == MemberState.SUSPECT
        && existing != null
        && existing.incarnation() == update.incarnation()) {
      // An independent confirmation shortens the timer; pass it on so others count it too.
      if (existing.confirm(update.fromId())) {
        broadcasts.add(update);
      }
      return;
    }
    member.incarnation = update.incarnation();
    setState(member, MemberState.SUSPECT);
    int memberCount = liveMemberCount();
    long minTicks = settings.suspicionMinTicks(memberCount);
    boolean shrink = settings.suspicionShrink();
    long maxTicks = shrink ? settings.suspicionMaxTicks(memberCount) : minTicks;
    int expected = shrink ? Math.min(settings.suspicionMultiplier() - 2, memberCount - 2) : 0;
    suspicions.put(
        member.id,
        new Suspicion(member.incarnation, update.fromId(), now, minTicks, maxTicks, expected));
    events.add(new MemberEvent(MemberEvent.Kind.SUSPECTED, member.id, member.incarnation, now));
    broadcasts.add(update);
  }

  private void applyGone(MemberRecord member, Update update) {
    if (member == null
        || update.incarnation() < member.incarnation
        || member.state == MemberState.DEAD
        || member.state == MemberState.LEFT) {
      return;
    }
    member.incarnation = update.incarnation();
    setState(member, update.state());
    suspicions.remove(member.id);
    MemberEvent.Kind kind =
        update.state() == MemberState.LEFT ? MemberEvent.Kind.LEFT : MemberEvent.Kind.DECLARED_DEAD;
    events.add(new MemberEvent(kind, member.id, member.incarnation, now));
    broadcasts.add(update);
  }

  private void applyAboutSelf(Update update) {
    boolean accusation = update.state() != MemberState.ALIVE;
    if (!accusation || left) {
      return;
    }
    if (update.incarnation() < incarnation) {
      // Already refuted, but the accusation still circulates: someone missed the refutation
      // (a lossy or one-way link). Spread it again rather than let the accuser's timer run out.
      if (broadcasts.queued(selfId) == null && unsafeMode != UnsafeMode.NO_REFUTATION) {
        broadcasts.add(selfAlive());
      }
      return;
    }
    if (unsafeMode == UnsafeMode.NO_REFUTATION) {
      return;
    }
    // Refute: only this member raises its own incarnation, and the higher one wins everywhere.
    incarnation = update.incarnation() + 1;
    refutationCount++;
    adjustAwareness(1);
    broadcasts.add(selfAlive());
  }

  private void setState(MemberRecord member, MemberState state) {
    probeableCount -= member.probeable() ? 1 : 0;
    member.state = state;
    probeableCount += member.probeable() ? 1 : 0;
    Invariants.check(
        0 <= probeableCount && probeableCount <= members.size(), "live count %s", probeableCount);
    member.stateChangeTick = now;
  }

  /** Members alive or suspect, this one included: the n of SWIM's log(n) scaling. */
  private int liveMemberCount() {
    return probeableCount + 1;
  }

  // ---- dissemination

  private void gossip() {
    if (broadcasts.size() == 0) {
      return;
    }
    long deadCutoff = now - settings.gossipToTheDeadTicks();
    List<MemberRecord> targets =
        randomMembers(
            settings.gossipNodes(),
            m -> m.probeable() || (m.state == MemberState.DEAD && m.stateChangeTick >= deadCutoff));
    for (MemberRecord target : targets) {
      List<Update> updates = piggyback();
      if (updates.isEmpty()) {
        return;
      }
      send(target.address, new Message.Gossip(updates));
    }
  }

  private void pushPull() {
    // Dead members stay candidates: after a partition heals this is how the two sides meet again.
    List<MemberRecord> peer = randomMembers(1, m -> m.state != MemberState.LEFT);
    if (probeableCount == 0 && !seeds.isEmpty()) {
      send(seeds.get(random.nextInt(seeds.size())), new Message.PushPull(false, fullState()));
    } else if (!peer.isEmpty()) {
      send(peer.getFirst().address, new Message.PushPull(false, fullState()));
    }
  }

  private void merge(List<Update> remoteState, String remoteId) {
    for (Update update : remoteState) {
      if (update.state() == MemberState.DEAD && !update.memberId().equals(selfId)) {
        // A remote member's verdict of death becomes a suspicion here: the member gets its chance
        // to refute instead of dying everywhere at once on one member's word.
        apply(
            new Update(
                update.memberId(),
                update.address(),
                MemberState.SUSPECT,
                update.incarnation(),
                remoteId));
      } else {
        apply(update);
      }
    }
  }

  private List<Update> fullState() {
    List<Update> state = new ArrayList<>(memberIds.size() + 1);
    state.add(
        left
            ? new Update(selfId, selfAddress, MemberState.LEFT, incarnation, selfId)
            : selfAlive());
    for (String id : memberIds) {
      MemberRecord m = members.get(id);
      boolean alive = m.state == MemberState.ALIVE;
      state.add(new Update(m.id, m.address, m.state, m.incarnation, selfId, alive && m.degraded));
    }
    return state;
  }

  private Update selfAlive() {
    return new Update(selfId, selfAddress, MemberState.ALIVE, incarnation, selfId, degraded);
  }

  private List<Update> piggyback() {
    return broadcasts.take(WireLimits.UPDATE_BUDGET_BYTES, retransmitLimit());
  }

  private int retransmitLimit() {
    return settings.retransmitLimit(liveMemberCount());
  }

  private List<MemberRecord> randomMembers(int count, Predicate<MemberRecord> eligible) {
    List<MemberRecord> chosen = new ArrayList<>(count);
    if (memberIds.isEmpty()) {
      return chosen;
    }
    for (int draw = 0; draw < RANDOM_DRAWS_MAX && chosen.size() < count; draw++) {
      MemberRecord candidate = members.get(memberIds.get(random.nextInt(memberIds.size())));
      if (eligible.test(candidate) && !chosen.contains(candidate)) {
        chosen.add(candidate);
      }
    }
    return chosen;
  }

  private void send(String toAddress, Message message) {
    outgoing.add(new Packet(selfId, selfAddress, toAddress, message));
  }
}
