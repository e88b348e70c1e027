package io.ringkv.raft;

import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.function.LongUnaryOperator;

/**
 * Quorum math, pure functions over member sets: the committed index of a majority configuration and
 * of a joint one (both majorities must agree), and vote tallies.
 *
 * <p>An empty majority configuration agrees to everything (committed index {@code Long.MAX_VALUE},
 * votes won): this makes a non-joint configuration a joint one with an empty outgoing half.
 */
final class Quorum {
  private Quorum() {}

  enum VoteResult {
    PENDING,
    LOST,
    WON
  }

  /** The highest index acknowledged by a majority of {@code voters}. */
  static long committedIndex(Set<Long> voters, LongUnaryOperator ackedIndex) {
    int count = voters.size();
    if (count == 0) {
      return Long.MAX_VALUE;
    }
    long[] acked = new long[count];
    int position = 0;
    for (long voter : voters) {
      acked[position++] = ackedIndex.applyAsLong(voter);
    }
    Arrays.sort(acked);
    // Sorted ascending, the element at count - majority is held by a majority (itself and above).
    int majority = count / 2 + 1;
    return acked[count - majority];
  }

  /** The committed index of a joint configuration: the lower of both halves. */
  static long jointCommittedIndex(
      Set<Long> incoming, Set<Long> outgoing, LongUnaryOperator ackedIndex) {
    return Math.min(committedIndex(incoming, ackedIndex), committedIndex(outgoing, ackedIndex));
  }

  /** Tally of {@code votes} (member to granted) in a majority configuration. */
  static VoteResult voteResult(Set<Long> voters, Map<Long, Boolean> votes) {
    if (voters.isEmpty()) {
      return VoteResult.WON;
    }
    int granted = 0;
    int missing = 0;
    for (long voter : voters) {
      Boolean vote = votes.get(voter);
      if (vote == null) {
        missing++;
      } else if (vote) {
        granted++;
      }
    }
    int majority = voters.size() / 2 + 1;
    if (granted >= majority) {
      return VoteResult.WON;
    }
    if (granted + missing >= majority) {
      return VoteResult.PENDING;
    }
    return VoteResult.LOST;
  }

  /** Joint tally: won only if both halves won, lost if either lost. */
  static VoteResult jointVoteResult(
      Set<Long> incoming, Set<Long> outgoing, Map<Long, Boolean> votes) {
    VoteResult first = voteResult(incoming, votes);
    VoteResult second = voteResult(outgoing, votes);
    if (first == second) {
      return first;
    }
    if (first == VoteResult.LOST || second == VoteResult.LOST) {
      return VoteResult.LOST;
    }
    return VoteResult.PENDING;
  }
}
