package io.ringkv.raft;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * Checks the quorum math (majority and joint committed index, vote tallies) against a naive
 * reference on random configurations. The seed is printed; {@code -Dquorum.seed=S} replays it.
 */
class QuorumMathTest {
  private static final int CASES = 20_000;

  @Test
  void committedIndexMatchesNaiveReference() {
    long seed = Long.getLong("quorum.seed", System.nanoTime());
    System.out.println("QuorumMathTest seed=" + seed);
    SplittableRandom random = new SplittableRandom(seed);
    for (int i = 0; i < CASES; i++) {
      Set<Long> incoming = randomVoters(random, 1);
      Set<Long> outgoing = random.nextBoolean() ? Set.of() : randomVoters(random, 1);
      Map<Long, Long> acked = new HashMap<>();
      for (long id = 1; id <= 9; id++) {
        if (random.nextInt(5) > 0) {
          acked.put(id, (long) random.nextInt(20));
        }
      }
      long expected = Math.min(naiveCommitted(incoming, acked), naiveCommitted(outgoing, acked));
      long actual =
          Quorum.jointCommittedIndex(incoming, outgoing, id -> acked.getOrDefault(id, 0L));
      assertThat(actual)
          .as("seed %d case %d: in=%s out=%s acked=%s", seed, i, incoming, outgoing, acked)
          .isEqualTo(expected);
    }
  }

  @Test
  void voteResultMatchesNaiveReference() {
    long seed = Long.getLong("quorum.seed", System.nanoTime());
    System.out.println("QuorumMathTest votes seed=" + seed);
    SplittableRandom random = new SplittableRandom(seed);
    for (int i = 0; i < CASES; i++) {
      Set<Long> incoming = randomVoters(random, 1);
      Set<Long> outgoing = random.nextBoolean() ? Set.of() : randomVoters(random, 1);
      Map<Long, Boolean> votes = new HashMap<>();
      for (long id = 1; id <= 9; id++) {
        int roll = random.nextInt(3);
        if (roll > 0) {
          votes.put(id, roll == 1);
        }
      }
      Quorum.VoteResult first = naiveVote(incoming, votes);
      Quorum.VoteResult second = naiveVote(outgoing, votes);
      Quorum.VoteResult expected;
      if (first == Quorum.VoteResult.WON && second == Quorum.VoteResult.WON) {
        expected = Quorum.VoteResult.WON;
      } else if (first == Quorum.VoteResult.LOST || second == Quorum.VoteResult.LOST) {
        expected = Quorum.VoteResult.LOST;
      } else {
        expected = Quorum.VoteResult.PENDING;
      }
      assertThat(Quorum.jointVoteResult(incoming, outgoing, votes))
          .as("seed %d case %d: in=%s out=%s votes=%s", seed, i, incoming, outgoing, votes)
          .isEqualTo(expected);
    }
  }

  @Test
  void emptyConfigurationAgreesToEverything() {
    assertThat(Quorum.committedIndex(Set.of(), id -> 0)).isEqualTo(Long.MAX_VALUE);
    assertThat(Quorum.voteResult(Set.of(), Map.of())).isEqualTo(Quorum.VoteResult.WON);
  }

  @Test
  void jointCommitNeedsBothMajorities() {
    Map<Long, Long> acked = Map.of(1L, 10L, 2L, 10L, 3L, 1L, 4L, 1L, 5L, 1L);
    // {1,2,3}: majority at 10; {3,4,5}: majority at 1.
    assertThat(Quorum.jointCommittedIndex(Set.of(1L, 2L, 3L), Set.of(3L, 4L, 5L), acked::get))
        .isEqualTo(1);
  }

  private static Set<Long> randomVoters(SplittableRandom random, int minimum) {
    Set<Long> voters = new TreeSet<>();
    int count = minimum + random.nextInt(7);
    while (voters.size() < count) {
      voters.add(1L + random.nextInt(9));
    }
    return voters;
  }

  /** The largest index a majority acknowledged, by trying every candidate index. */
  private static long naiveCommitted(Set<Long> voters, Map<Long, Long> acked) {
    if (voters.isEmpty()) {
      return Long.MAX_VALUE;
    }
    long best = 0;
    for (long candidate = 0; candidate <= 20; candidate++) {
      int count = 0;
      for (long voter : voters) {
        if (acked.getOrDefault(voter, 0L) >= candidate) {
          count++;
        }
      }
      if (count * 2 > voters.size()) {
        best = candidate;
      }
    }
    return best;
  }

  private static Quorum.VoteResult naiveVote(Set<Long> voters, Map<Long, Boolean> votes) {
    if (voters.isEmpty()) {
      return Quorum.VoteResult.WON;
    }
    int yes = 0;
    int no = 0;
    for (long voter : voters) {
      Boolean vote = votes.get(voter);
      if (vote != null) {
        if (vote) {
          yes++;
        } else {
          no++;
        }
      }
    }
    if (yes * 2 > voters.size()) {
      return Quorum.VoteResult.WON;
    }
    if (no * 2 >= voters.size()) {
      return Quorum.VoteResult.LOST;
    }
    return Quorum.VoteResult.PENDING;
  }
}
