package io.ringkv.raft;

import java.util.Set;
import java.util.TreeSet;

/**
 * A group's membership configuration as persisted with snapshots and hard state.
 *
 * <p>Outside a joint configuration {@code votersOutgoing} and {@code learnersNext} are empty. In a
 * joint configuration (C_old,new) {@code voters} is C_new and {@code votersOutgoing} is C_old;
 * {@code learnersNext} holds voters of C_old that become learners once the joint configuration is
 * left.
 *
 * @param voters voting members (the incoming configuration while joint)
 * @param learners non-voting members receiving the log
 * @param votersOutgoing voting members of the outgoing configuration, empty unless joint
 * @param learnersNext members that turn into learners when the joint configuration is left
 * @param autoLeave whether the leader leaves the joint configuration by itself once it is committed
 */
public record ConfState(
    Set<Long> voters,
    Set<Long> learners,
    Set<Long> votersOutgoing,
    Set<Long> learnersNext,
    boolean autoLeave) {
  public static final ConfState EMPTY =
      new ConfState(Set.of(), Set.of(), Set.of(), Set.of(), false);

  public ConfState {
    voters = sortedCopy(voters);
    learners = sortedCopy(learners);
    votersOutgoing = sortedCopy(votersOutgoing);
    learnersNext = sortedCopy(learnersNext);
    for (long learner : learners) {
      Invariants.check(!voters.contains(learner), "member %d is both voter and learner", learner);
    }
    Invariants.check(
        !autoLeave || !votersOutgoing.isEmpty(), "autoLeave set outside a joint configuration");
  }

  /** A plain (non-joint) configuration with the given voters and no learners. */
  public static ConfState ofVoters(Set<Long> voters) {
    return new ConfState(voters, Set.of(), Set.of(), Set.of(), false);
  }

  public boolean isJoint() {
    return !votersOutgoing.isEmpty();
  }

  private static Set<Long> sortedCopy(Set<Long> ids) {
    Invariants.check(ids != null, "member set must not be null");
    for (long id : ids) {
      Invariants.check(id > 0, "member ids must be > 0, got %d", id);
    }
    return java.util.Collections.unmodifiableSortedSet(new TreeSet<>(ids));
  }
}
