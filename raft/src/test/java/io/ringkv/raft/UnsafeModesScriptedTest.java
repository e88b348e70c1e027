package io.ringkv.raft;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * Scripted demonstrations that the unsafe testing modes really break Raft (and the safe core does
 * not).
 */
class UnsafeModesScriptedTest {

  private static ScriptedCluster cluster(boolean forgetVote) {
    return new ScriptedCluster(
        3,
        builder -> {
          builder.preVote(false).checkQuorum(false);
          if (forgetVote) {
            builder
                .allowUnsafeTestingModes()
                .unsafeTestingMode(UnsafeTestingMode.FORGET_VOTE_ON_RESTART);
          }
          return builder;
        });
  }

  /** Members 1 and 2 campaign in the same term; 3 votes for 1, restarts, then hears 2. */
  private static long leadersOfOneTerm(boolean forgetVote) {
    ScriptedCluster cluster = cluster(forgetVote);
    cluster.cut(2, 3); // 2's vote request to 3 waits
    cluster.cut(1, 2);
    cluster.cut(2, 1);
    cluster.cut(1, 3); // 3 will see 1's vote request, but not its first append
    cluster.campaign(2);
    cluster.campaign(1);
    deliverHeld(cluster, 1, 3);
    cluster.stabilize(); // 1 wins with 3's vote, in the same term as 2's campaign
    assertThat(cluster.status(1).role()).isEqualTo(Role.LEADER);
    assertThat(cluster.status(2).term()).isEqualTo(cluster.status(1).term());
    TestMember voter = cluster.members.get(3L);
    voter.crash();
    voter.restart();
    cluster.heal();
    deliverHeld(cluster, 2, 3); // 2's held-back vote request reaches the restarted 3
    cluster.cut(1, 2);
    cluster.cut(1, 3);
    cluster.stabilize();
    long term = cluster.status(1).term();
    return cluster.members.values().stream()
        .filter(member ->
            member.node.status().role() == Role.LEADER && member.node.status().term() == term)
        .count();
  }

  private static void deliverHeld(ScriptedCluster cluster, long from, long to) {
    for (Message message : java.util.List.copyOf(cluster.dropped)) {
      if (message.type() == MessageType.VOTE && message.from() == from && message.to() == to) {
        cluster.dropped.remove(message);
        cluster.node(to).step(message);
      }
    }
  }

  @Test
  void forgettingTheVoteOnRestartElectsTwoLeadersInOneTerm() {
    assertThat(leadersOfOneTerm(true)).isEqualTo(2);
  }

  @Test
  void persistedVoteKeepsOneLeaderPerTerm() {
    assertThat(leadersOfOneTerm(false)).isEqualTo(1);
  }
}
