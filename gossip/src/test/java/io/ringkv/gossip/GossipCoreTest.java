package io.ringkv.gossip;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Proves the core's protocol steps one at a time on a few members with a lossless next-tick
 * network: join by push-pull, probe and indirect probe, suspicion then death, refutation by
 * incarnation, the buddy system, local health awareness, a member's word that it is degraded, and
 * the settings' validation.
 */
class GossipCoreTest {
  private static final GossipSettings LAN = GossipSettings.lan();

  @Test
  void membersJoinThroughOneSeedAndSeeEachOtherAlive() {
    ScriptedCluster cluster = new ScriptedCluster(LAN, 1, "a", "b", "c", "d");
    cluster.ticksUntil(
        "everyone sees everyone",
        200,
        () -> cluster.cores.values().stream().allMatch(core -> core.members().size() == 4));
    for (String id : List.of("a", "b", "c", "d")) {
      assertThat(cluster.allSee(id, MemberState.ALIVE)).as(id).isTrue();
    }
  }

  @Test
  void aSilentMemberIsProbedIndirectlyThenSuspectedThenDeclaredDead() {
    ScriptedCluster cluster = new ScriptedCluster(LAN, 2, "a", "b", "c", "d");
    cluster.ticks(100);
    cluster.dropRule = packet -> packet.toAddress().equals("d") || packet.fromId().equals("d");
    cluster.ticksUntil(
        "d suspected", 200, () -> cluster.core("a").stateOf("d") != MemberState.ALIVE);
    assertThat(cluster.sent)
        .anyMatch(p -> p.message() instanceof Message.PingRequest r && r.targetId().equals("d"));
    long maxTicks = LAN.suspicionMaxTicks(4) + 2L * LAN.probeIntervalTicks();
    cluster.ticksUntil("d dead everywhere", (int) maxTicks, () -> allButDSee(cluster));
    assertThat(
            cluster.core("a").counters().declaredDead()
                + cluster.core("b").counters().declaredDead()
                + cluster.core("c").counters().declaredDead())
        .isPositive();
  }

  private static boolean allButDSee(ScriptedCluster cluster) {
    return List.of("a", "b", "c").stream()
        .allMatch(id -> cluster.core(id).stateOf("d") == MemberState.DEAD);
  }

  @Test
  void anIndirectProbeThroughAHelperSavesAMemberBehindABrokenLink() {
    ScriptedCluster cluster = new ScriptedCluster(LAN, 3, "a", "b", "c", "d");
    cluster.ticks(100);
    // a cannot reach c directly (nor c answer a), but both reach b and d.
    cluster.dropRule =
        packet ->
            (packet.fromId().equals("a") && packet.toAddress().equals("c"))
                || (packet.fromId().equals("c") && packet.toAddress().equals("a"));
    cluster.ticks(40 * LAN.probeIntervalTicks());
    assertThat(cluster.core("a").counters().indirectProbes()).isPositive();
    assertThat(cluster.allSee("c", MemberState.ALIVE)).isTrue();
    assertThat(cluster.core("a").counters().suspicions()).isZero();
  }

  @Test
  void aSuspectedMemberRefutesWithAHigherIncarnation() {
    ScriptedCluster cluster = new ScriptedCluster(LAN, 4, "a", "b", "c");
    cluster.ticks(100);
    long before = cluster.core("c").incarnation();
    // b claims that c is suspect; c hears it through gossip and refutes.
    GossipCore b = cluster.core("b");
    b.receive(
        new Packet(
            "a",
            "a",
            "b",
            new Message.Gossip(List.of(new Update("c", "c", MemberState.SUSPECT, before, "a")))));
    assertThat(b.stateOf("c")).isEqualTo(MemberState.SUSPECT);
    cluster.ticksUntil("c refuted", 100, () -> cluster.allSee("c", MemberState.ALIVE));
    assertThat(cluster.core("c").incarnation()).isEqualTo(before + 1);
    assertThat(cluster.core("c").counters().refutations()).isEqualTo(1);
  }

  @Test
  void aStaleAccusationMakesTheMemberSpreadItsRefutationAgain() {
    // Found by simulation seed 148 (5 members, 5 % loss, cut links): a refutation that missed the
    // accusers died out of the queues while the old suspicion kept circulating, and a live member
    // was declared dead.
    ScriptedCluster cluster = new ScriptedCluster(LAN, 4, "a", "b", "c");
    cluster.ticks(100);
    GossipCore c = cluster.core("c");
    Packet accusation =
        new Packet(
            "a",
            "a",
            "c",
            new Message.Gossip(List.of(new Update("c", "c", MemberState.SUSPECT, 0, "a"))));
    c.receive(accusation);
    assertThat(c.incarnation()).isEqualTo(1);
    cluster.ticksUntil("c's queue drained", 400, () -> c.broadcastQueueSize() == 0);
    c.receive(accusation);
    assertThat(c.incarnation()).isEqualTo(1);
    assertThat(c.broadcastQueueSize()).isEqualTo(1);
  }

  @Test
  void aMemberHeldDeadIsToldSoWhenItSpeaksAndComesBackAtOnce() {
    // Found by simulation (50 members, 20 % loss, a healed partition): once a death notice had
    // left every queue, a member held dead learnt of it only through push-pull, every 30 s.
    ScriptedCluster cluster = new ScriptedCluster(LAN, 8, "a", "b", "c");
    cluster.ticks(100);
    GossipCore a = cluster.core("a");
    // The death notice about b is lost everywhere until it has left a's queue for good.
    cluster.dropRule =
        packet ->
            packet.message().updates().stream()
                .anyMatch(u -> u.memberId().equals("b") && u.state() == MemberState.DEAD);
    a.receive(
        new Packet(
            "x",
            "x",
            "a",
            new Message.Gossip(List.of(new Update("b", "b", MemberState.DEAD, 0, "x")))));
    cluster.ticks(LAN.gossipToTheDeadTicks() + LAN.probeIntervalTicks());
    assertThat(a.stateOf("b")).isEqualTo(MemberState.DEAD);
    cluster.dropRule = packet -> false;
    cluster.ticksUntil(
        "b alive again at a",
        4 * LAN.probeIntervalTicks(),
        () -> a.stateOf("b") == MemberState.ALIVE);
    assertThat(cluster.core("b").incarnation()).isEqualTo(1);
  }

  @Test
  void withoutRefutationTheSameSuspicionKillsALiveMember() {
    ScriptedCluster cluster = new ScriptedCluster(LAN, 4, "a", "b", "c");
    cluster.core("c").setUnsafeMode(GossipCore.UnsafeMode.NO_REFUTATION);
    cluster.ticks(100);
    cluster
        .core("b")
        .receive(
            new Packet(
                "a",
                "a",
                "b",
                new Message.Gossip(
                    List.of(
                        new Update(
                            "c",
                            "c",
                            MemberState.SUSPECT,
                            cluster.core("c").incarnation(),
                            "a")))));
    cluster.ticksUntil(
        "c dead at b",
        (int) LAN.suspicionMaxTicks(3) + 10,
        () -> cluster.core("b").stateOf("c") == MemberState.DEAD);
  }

  @Test
  void aProbeOfASuspectCarriesTheSuspicionFirst() {
    ScriptedCluster cluster = new ScriptedCluster(LAN, 5, "a", "b");
    cluster.ticks(60);
    GossipCore a = cluster.core("a");
    a.receive(
        new Packet(
            "b",
            "b",
            "a",
            new Message.Gossip(
                List.of(
                    new Update(
                        "b", "b", MemberState.SUSPECT, cluster.core("b").incarnation(), "x")))));
    assertThat(a.stateOf("b")).isEqualTo(MemberState.SUSPECT);
    // Without gossip rounds, only the probe itself can tell b.
    cluster.dropRule = packet -> packet.message() instanceof Message.Gossip;
    int sentBefore = cluster.sent.size();
    cluster.ticksUntil(
        "a probes b",
        3 * LAN.probeIntervalTicks(),
        () ->
            cluster.sent.subList(sentBefore, cluster.sent.size()).stream()
                .anyMatch(p -> p.fromId().equals("a") && p.message() instanceof Message.Ping));
    Packet ping =
        cluster.sent.subList(sentBefore, cluster.sent.size()).stream()
            .filter(p -> p.fromId().equals("a") && p.message() instanceof Message.Ping)
            .findFirst()
            .orElseThrow();
    Update first = ping.message().updates().getFirst();
    assertThat(first.memberId()).isEqualTo("b");
    assertThat(first.state()).isEqualTo(MemberState.SUSPECT);
    cluster.ticksUntil("b refuted", 5, () -> a.stateOf("b") == MemberState.ALIVE);
  }

  @Test
  void aMemberThatHearsNothingRaisesItsHealthScoreAndProbesLessOften() {
    ScriptedCluster cluster = new ScriptedCluster(LAN, 6, "a", "b", "c", "d");
    cluster.ticks(100);
    assertThat(cluster.core("a").localHealthScore()).isZero();
    // Everything sent to a is lost: its acks and its helpers' nacks never arrive.
    cluster.dropRule = packet -> packet.toAddress().equals("a");
    // Each failed probe raises the score and stretches the next period: 1 + 2 + ... + 7 periods.
    cluster.ticksUntil(
        "a at its worst health score",
        40 * LAN.probeIntervalTicks(),
        () -> cluster.core("a").localHealthScore() == LAN.awarenessMax() - 1);
    long probes = cluster.core("a").counters().probes();
    cluster.ticks(20 * LAN.probeIntervalTicks());
    // Stretched eightfold: about 20 / 8 probes, not 20.
    assertThat(cluster.core("a").counters().probes() - probes).isBetween(2L, 4L);
    cluster.dropRule = packet -> false;
    cluster.ticksUntil("a healthy again", 4000, () -> cluster.core("a").localHealthScore() == 0);
  }

  @Test
  void plainSwimKeepsItsHealthScoreAtZero() {
    ScriptedCluster cluster = new ScriptedCluster(LAN.plainSwim(), 6, "a", "b", "c", "d");
    cluster.ticks(100);
    cluster.dropRule = packet -> packet.toAddress().equals("a");
    cluster.ticks(20 * LAN.probeIntervalTicks());
    assertThat(cluster.core("a").localHealthScore()).isZero();
  }

  @Test
  void aMemberThatSaysItIsDegradedIsSeenSoEverywhereAndItsRecoveryToo() {
    ScriptedCluster cluster = new ScriptedCluster(LAN, 11, "a", "b", "c", "d");
    cluster.ticks(100);
    long before = cluster.core("c").incarnation();
    cluster.core("c").setDegraded(true);
    assertThat(cluster.core("c").incarnation()).isEqualTo(before + 1);
    cluster.ticksUntil("c degraded everywhere", 200, () -> allSeeDegraded(cluster, "c", true));
    // A member that joins later learns it by push-pull, which repeats the flag.
    assertThat(cluster.allSee("c", MemberState.ALIVE)).isTrue();
    cluster.core("c").setDegraded(false);
    cluster.ticksUntil("c healthy everywhere", 200, () -> allSeeDegraded(cluster, "c", false));
    assertThat(cluster.core("c").incarnation()).isEqualTo(before + 2);
  }

  private static boolean allSeeDegraded(ScriptedCluster cluster, String id, boolean degraded) {
    return cluster.cores.values().stream()
        .allMatch(core ->
            core.members().stream()
                .anyMatch(view -> view.memberId().equals(id) && view.degraded() == degraded));
  }

  @Test
  void aLeavingMemberIsSeenAsLeftAndNotProbed() {
    ScriptedCluster cluster = new ScriptedCluster(LAN, 7, "a", "b", "c");
    cluster.ticks(100);
    cluster.core("c").leave();
    cluster.ticksUntil("c left everywhere", 100, () -> cluster.allSee("c", MemberState.LEFT));
    long probes = cluster.core("c").counters().probes();
    cluster.ticks(100);
    assertThat(cluster.core("c").counters().probes()).isEqualTo(probes);
  }

  @Test
  void presetsMatchTheirDocumentedDurations() {
    GossipSettings lan = GossipSettings.preset("lan");
    assertThat(lan.probeIntervalTicks() * lan.tickMillis()).isEqualTo(1_000);
    assertThat(lan.probeTimeoutTicks() * lan.tickMillis()).isEqualTo(500);
    assertThat(lan.gossipIntervalTicks() * lan.tickMillis()).isEqualTo(200);
    assertThat(lan.pushPullIntervalTicks() * lan.tickMillis()).isEqualTo(30_000);
    assertThat(lan.indirectChecks()).isEqualTo(3);
    assertThat(lan.suspicionMultiplier()).isEqualTo(4);
    assertThat(lan.awarenessMax()).isEqualTo(8);
    assertThat(lan.gossipNodes()).isEqualTo(3);
    assertThat(GossipSettings.preset("WAN").probeIntervalTicks()).isEqualTo(100);
    assertThat(GossipSettings.preset("local").probeTimeoutTicks()).isEqualTo(4);
    assertThat(lan.retransmitLimit(5)).isEqualTo(4);
    assertThat(lan.retransmitLimit(500)).isEqualTo(12);
    assertThat(lan.suspicionMinTicks(5)).isEqualTo(80);
    assertThat(lan.suspicionMaxTicks(5)).isEqualTo(480);
  }

  @Test
  void inconsistentSettingsAreRejectedByName() {
    GossipSettings lan = GossipSettings.lan();
    assertThatThrownBy(() ->
            new GossipSettings(50, 20, 20, 3, 4, 4, 6, 8, 4, 3, 600, 600, 4096, true, true, true))
        .hasMessageContaining("probeTimeoutTicks");
    assertThatThrownBy(() ->
            new GossipSettings(50, 20, 10, 3, 4, 4, 6, 8, 4, 3, 600, 600, 1, true, true, true))
        .hasMessageContaining("broadcastQueueMax");
    assertThat(lan.plainSwim().suspicionShrink()).isFalse();
    assertThatThrownBy(() -> GossipSettings.preset("moon"))
        .hasMessageContaining("local, lan or wan");
  }
}
