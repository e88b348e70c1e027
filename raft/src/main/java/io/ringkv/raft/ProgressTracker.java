package io.ringkv.raft;

import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The leader's view of every member (a {@link Progress} each), the current membership
 * configuration, and the votes of the current election. Member maps are sorted, so iteration order
 * (and thus the order of outgoing messages) is deterministic.
 */
final class ProgressTracker {
  private final int maxInflightMessages;
  private final long maxInflightBytes;
  ConfState config = ConfState.EMPTY;
  final TreeMap<Long, Progress> progress = new TreeMap<>();
  final Map<Long, Boolean> votes = new HashMap<>();

  ProgressTracker(int maxInflightMessages, long maxInflightBytes) {
    this.maxInflightMessages = maxInflightMessages;
    this.maxInflightBytes = maxInflightBytes;
  }

  /**
   * Switches to {@code newConfig}: members that left lose their progress, new members start probing
   * from {@code lastIndex + 1}.
   */
  void applyConfig(ConfState newConfig, long lastIndex) {
    TreeSet<Long> members = members(newConfig);
    progress.keySet().retainAll(members);
    for (long id : members) {
      // A member in learnersNext still votes in the outgoing half until the joint config is left.
      boolean learner = newConfig.learners().contains(id);
      Progress existing = progress.get(id);
      if (existing == null) {
        Progress fresh = newProgress(0, lastIndex + 1, learner);
        // A new member is presumed active so that CheckQuorum does not depose the leader at once.
        fresh.recentActive = true;
        progress.put(id, fresh);
      } else {
        existing.learner = learner;
      }
    }
    config = newConfig;
  }

  Progress newProgress(long match, long next, boolean learner) {
    return new Progress(match, next, new Inflights(maxInflightMessages, maxInflightBytes), learner);
  }

  static TreeSet<Long> members(ConfState config) {
    TreeSet<Long> members = new TreeSet<>(config.voters());
    members.addAll(config.votersOutgoing());
    members.addAll(config.learners());
    members.addAll(config.learnersNext());
    return members;
  }

  boolean isVoter(long id) {
    return config.voters().contains(id) || config.votersOutgoing().contains(id);
  }

  boolean isSingleVoter(long id) {
    return config.votersOutgoing().isEmpty()
        && config.voters().size() == 1
        && config.voters().contains(id);
  }

  /** The highest index acknowledged by a quorum of voters (of both halves when joint). */
  long committed() {
    return Quorum.jointCommittedIndex(
        config.voters(),
        config.votersOutgoing(),
        id -> {
          Progress member = progress.get(id);
          return member == null ? 0 : member.match;
        });
  }

  void resetVotes() {
    votes.clear();
  }

  void recordVote(long id, boolean granted) {
    votes.putIfAbsent(id, granted);
  }

  Quorum.VoteResult tallyVotes() {
    return Quorum.jointVoteResult(config.voters(), config.votersOutgoing(), votes);
  }

  /** Whether a quorum was recently active (as seen by {@code self}, which always counts). */
  boolean quorumActive(long self) {
    Map<Long, Boolean> active = new HashMap<>();
    progress.forEach((id, member) -> active.put(id, id == self || member.recentActive));
    return Quorum.jointVoteResult(config.voters(), config.votersOutgoing(), active)
        == Quorum.VoteResult.WON;
  }
}
