package io.ringkv.raft;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Scripted scenarios from the Raft paper and from practice: figure 8 (with the safe core and with
 * the broken commit rule), a partitioned old leader, a removed member that keeps campaigning, and a
 * lagging follower caught up by snapshot.
 */
class ClassicScenariosTest {

  /**
   * Figure 8 of the Raft paper, five members. S1 (term 2) gets entry X onto S2 only; S5 (term 3)
   * appends Y at the same index alone; S1 (term 4) brings X to a majority; S5 (term 5) wins and
   * overwrites X. Counting replicas of X in term 4 would have committed it: the broken rule lets S1
   * apply X while the others later apply Y at the same index.
   */
  private static ScriptedCluster figure8(boolean brokenCommitRule) {
    ScriptedCluster cluster =
        new ScriptedCluster(
            5,
            builder -> {
              builder.preVote(false).checkQuorum(false).maxSizeBytesPerAppend(1);
              if (brokenCommitRule) {
                builder
                    .allowUnsafeTestingModes()
                    .unsafeTestingMode(UnsafeTestingMode.COMMIT_PREVIOUS_TERM_BY_COUNTING);
              }
              return builder;
            });
    // (a) S1 leads term 2; X reaches S2 only.
    cluster.campaign(1);
    assertThat(cluster.status(1).role()).isEqualTo(Role.LEADER);
    for (long other = 3; other <= 5; other++) {
      cluster.cut(1, other);
    }
    cluster.propose(1, 100);
    // (b) S1 crashes; S5 leads term 3 with S3 and S4, appends Y alone.
    cluster.members.get(1L).crash();
    cluster.dropFilter = message -> message.from() == 5 && message.type() == MessageType.APPEND;
    cluster.heal();
    cluster.campaign(5);
    assertThat(cluster.status(5).role()).isEqualTo(Role.LEADER);
    cluster.propose(5, 200);
    // (c) S5 crashes; S1 restarts and leads term 4; old entries reach S2 and S3, nothing newer
    // does.
    cluster.members.get(5L).crash();
    cluster.members.get(1L).restart();
    long lastOldIndex = cluster.members.get(1L).storage.lastIndex();
    cluster.dropFilter =
        message ->
            message.from() == 1
                && message.type() == MessageType.APPEND
                && (message.to() >= 4
                    || (!message.entries().isEmpty()
                        && message.entries().get(message.entries().size() - 1).index()
                            > lastOldIndex));
    campaignUntilLeader(cluster, 1); // term 3 is taken: it wins term 4
    cluster.tick(1, 3);
    // (d) S1 crashes; S5 restarts and wins term 5 with S2, S3, S4, overwriting X with Y.
    cluster.members.get(1L).crash();
    cluster.members.get(5L).restart();
    cluster.dropFilter = message -> false;
    campaignUntilLeader(cluster, 5);
    cluster.tick(5, 3);
    return cluster;
  }

  private static void campaignUntilLeader(ScriptedCluster cluster, long id) {
    for (int attempt = 0; attempt < 3 && cluster.status(id).role() != Role.LEADER; attempt++) {
      cluster.campaign(id);
    }
    assertThat(cluster.status(id).role()).isEqualTo(Role.LEADER);
  }

  @Test
  void figure8SafeCoreNeverAppliesAnOverwrittenEntry() {
    ScriptedCluster cluster = figure8(false);
    assertThat(cluster.appliedValues(1)).doesNotContain(100L);
    assertThat(cluster.appliedValues(3)).contains(200L).doesNotContain(100L);
    assertAppliedLogsAgree(cluster);
  }

  @Test
  void figure8BrokenCommitRuleAppliesDifferentEntriesAtOneIndex() {
    ScriptedCluster cluster = figure8(true);
    assertThat(cluster.appliedValues(1)).containsExactly(100L);
    assertThat(cluster.appliedValues(4)).containsExactly(200L);
    Entry atS1 = cluster.appliedByMember.get(1L).get(cluster.appliedByMember.get(1L).size() - 1);
    Entry atS4 = cluster.appliedByMember.get(4L).get(cluster.appliedByMember.get(4L).size() - 1);
    assertThat(atS1.index()).isEqualTo(atS4.index());
  }

  private static void assertAppliedLogsAgree(ScriptedCluster cluster) {
    java.util.Map<Long, Entry> byIndex = new java.util.HashMap<>();
    cluster.appliedByMember.forEach((member, entries) -> {
      for (Entry entry : entries) {
        Entry previous = byIndex.putIfAbsent(entry.index(), entry);
        assertThat(previous == null || previous.equals(entry))
            .as("member %d applied %s, another applied %s", member, entry, previous)
            .isTrue();
      }
    });
  }

  @Test
  void partitionedOldLeaderStepsDownAndLosesItsUncommittedWrites() {
    ScriptedCluster cluster = new ScriptedCluster(3, builder -> builder);
    cluster.campaign(1);
    cluster.propose(1, 1);
    cluster.isolate(1);
    cluster.propose(1, 666); // stuck on the isolated old leader
    cluster.tickAll(30); // 2 and 3 elect a new leader; CheckQuorum deposes 1
    long newLeader = cluster.leader();
    assertThat(newLeader).isIn(2L, 3L);
    assertThat(cluster.status(1).role()).isNotEqualTo(Role.LEADER);
    cluster.propose(newLeader, 2);
    cluster.heal();
    cluster.tickAll(5);
    for (long id = 1; id <= 3; id++) {
      assertThat(cluster.appliedValues(id)).as("member %d", id).containsExactly(1L, 2L);
    }
  }

  @Test
  void removedMemberThatKeepsCampaigningDoesNotDisruptTheGroup() {
    ScriptedCluster cluster = new ScriptedCluster(3, builder -> builder);
    cluster.campaign(1);
    // 3 never hears of its removal.
    cluster.cut(1, 3);
    cluster.cut(2, 3);
    cluster.node(1).proposeConfChange(ConfChange.removeMember(3));
    cluster.stabilize();
    cluster.tickAll(2);
    assertThat(cluster.status(1).confState().voters()).containsExactly(1L, 2L);
    long term = cluster.status(1).term();
    cluster.heal();
    cluster.tickAll(100); // 3 times out again and again and campaigns
    assertThat(cluster.status(3).confState().voters()).contains(3L);
    assertThat(cluster.leader()).isEqualTo(1);
    assertThat(cluster.status(1).term()).isEqualTo(term);
    cluster.propose(1, 7);
    assertThat(cluster.appliedValues(2)).containsExactly(7L);
  }

  @Test
  void removedLeaderHandsLeadershipToAnUpToDateVoter() {
    ScriptedCluster cluster = new ScriptedCluster(3, builder -> builder);
    cluster.campaign(1);
    cluster.node(1).proposeConfChange(ConfChange.removeMember(1));
    cluster.stabilize();
    cluster.tickAll(5);
    long leader = cluster.leader();
    assertThat(leader).isIn(2L, 3L);
    assertThat(cluster.status(leader).confState().voters()).containsExactly(2L, 3L);
    cluster.propose(leader, 5);
    assertThat(cluster.appliedValues(2)).containsExactly(5L);
    assertThat(cluster.appliedValues(3)).containsExactly(5L);
  }

  @Test
  void laggingFollowerBehindTheCompactedLogGetsASnapshot() {
    ScriptedCluster cluster = ScriptedCluster.withLaggingMember3(10, 40);
    assertThat(cluster.members.get(1L).storage.firstIndex()).isGreaterThan(2);
    cluster.heal();
    cluster.tickAll(5);
    assertThat(cluster.sent)
        .anyMatch(message -> message.type() == MessageType.SNAPSHOT && message.to() == 3);
    TestMember lagging = cluster.members.get(3L);
    assertThat(lagging.storage.snapshot().metadata().index()).isGreaterThan(1);
    assertThat(lagging.registerValue).isEqualTo(40);
    assertThat(lagging.appliedIndex).isEqualTo(cluster.members.get(1L).appliedIndex);
    cluster.propose(1, 41);
    assertThat(cluster.members.get(3L).registerValue).isEqualTo(41);
    assertThat(List.of(cluster.status(3).commitIndex()))
        .containsExactly(cluster.status(1).commitIndex());
  }
}
