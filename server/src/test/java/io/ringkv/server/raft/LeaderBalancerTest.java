package io.ringkv.server.raft;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Proves the leader balancer's decisions alone, with no Raft core or thread: it hands off only led
 * partitions, only to a connected preferred replica, only on its period, never during a transfer,
 * and leaves a partition moved on purpose alone for the hold periods; a slow node hands every
 * partition it leads to a healthy voter at once, and no node hands one to an unhealthy voter.
 */
class LeaderBalancerTest {
  private static final List<Long> VOTERS = List.of(3L, 1L, 2L);

  private static LeaderBalancer.Candidate led(int partition, long balanceAfterTick) {
    return new LeaderBalancer.Candidate(partition, true, 0, VOTERS, balanceAfterTick);
  }

  @Test
  void preferredLeaderIsRoundRobinOverSortedVoters() {
    assertThat(LeaderBalancer.preferredLeader(0, VOTERS)).isEqualTo(1L);
    assertThat(LeaderBalancer.preferredLeader(1, VOTERS)).isEqualTo(2L);
    assertThat(LeaderBalancer.preferredLeader(5, VOTERS)).isEqualTo(3L);
  }

  @Test
  void handsLedPartitionsToConnectedPreferredReplicasOnly() {
    LeaderBalancer balancer = new LeaderBalancer(1, 5);
    List<LeaderBalancer.Candidate> candidates =
        List.of(
            led(0, 0), // preferred is this node: stays
            led(1, 0), // preferred 2, connected: moves
            led(2, 0), // preferred 3, not connected: stays
            new LeaderBalancer.Candidate(4, false, 0, VOTERS, 0), // not led here
            new LeaderBalancer.Candidate(7, true, 3, VOTERS, 0)); // transfer under way
    assertThat(balancer.transfers(10, candidates, id -> id == 2))
        .containsExactly(new LeaderBalancer.Transfer(1, 2));
  }

  @Test
  void runsOnItsPeriodAndHoldsPartitionsMovedOnPurpose() {
    LeaderBalancer balancer = new LeaderBalancer(1, 5);
    assertThat(balancer.due(5)).isTrue();
    assertThat(balancer.due(6)).isFalse();
    long hold = balancer.holdUntil(100);
    assertThat(hold).isEqualTo(100 + LeaderBalancer.HOLD_PERIODS_AFTER_TRANSFER * 5);
    assertThat(balancer.transfers(hold - 1, List.of(led(1, hold)), id -> true)).isEmpty();
    assertThat(balancer.transfers(hold, List.of(led(1, hold)), id -> true)).hasSize(1);
    assertThat(new LeaderBalancer(1, 0).due(10)).as("0 turns balancing off").isFalse();
  }

  @Test
  void aSlowNodeHandsEveryLedPartitionToAHealthyVoterAtOnceWhateverTheHold() {
    LeaderBalancer balancer = new LeaderBalancer(1, 5);
    List<LeaderBalancer.Candidate> candidates =
        List.of(
            led(0, 1_000), // preferred is this node, held: goes to the next voter, 2
            led(1, 0), // preferred 2 is unhealthy: goes to the next, 3
            led(2, 0), // preferred 3
            new LeaderBalancer.Candidate(4, false, 0, VOTERS, 0), // not led here
            new LeaderBalancer.Candidate(7, true, 3, VOTERS, 0)); // transfer under way
    assertThat(balancer.transfers(10, candidates, true, id -> id == 3))
        .containsExactly(
            new LeaderBalancer.Transfer(0, 3),
            new LeaderBalancer.Transfer(1, 3),
            new LeaderBalancer.Transfer(2, 3));
    assertThat(balancer.transfers(10, List.of(led(0, 1_000)), true, id -> true))
        .containsExactly(new LeaderBalancer.Transfer(0, 2));
    assertThat(balancer.transfers(10, List.of(led(1, 0)), true, id -> false))
        .as("no healthy voter: the slow node keeps leading rather than leave it leaderless")
        .isEmpty();
  }

  @Test
  void aHealthyNodeDoesNotHandBackToASlowPreferredReplica() {
    // Node 2 leads partition 0, whose preferred leader, node 1, says it is slow.
    LeaderBalancer balancer = new LeaderBalancer(2, 5);
    LeaderBalancer.Candidate partition0 = led(0, 0); // preferred: node 1
    assertThat(balancer.transfers(10, List.of(partition0), false, id -> id != 1)).isEmpty();
    assertThat(balancer.transfers(10, List.of(partition0), false, id -> true))
        .as("once node 1 says it recovered, it gets its partition back")
        .containsExactly(new LeaderBalancer.Transfer(0, 1));
  }
}
