package io.ringkv.raft;

import java.util.Set;
import java.util.TreeSet;

/**
 * Computes the configuration that results from a {@link ConfChange}. It never mutates the current
 * configuration: it returns a new {@link ConfState} after checking the invariants of the result,
 * and throws {@link IllegalArgumentException} for a change that is not allowed.
 *
 * <p>Joint consensus: entering copies the current voters into the outgoing half and applies the
 * operations to the incoming half. A voter of the outgoing half that is demoted to learner waits in
 * {@code learnersNext} until the joint configuration is left, so it never is voter and learner at
 * once.
 */
final class MembershipChanger {
  private MembershipChanger() {}

  static ConfState apply(ConfState current, ConfChange change) {
    if (change.isLeaveJoint()) {
      return leaveJoint(current);
    }
    if (change.entersJoint(current)) {
      return enterJoint(current, change);
    }
    return simple(current, change);
  }

  static ConfState enterJoint(ConfState current, ConfChange change) {
    require(!current.isJoint(), "configuration is already joint");
    require(!current.voters().isEmpty(), "cannot enter joint from an empty configuration");
    Mutable next = new Mutable(current);
    next.outgoing.addAll(current.voters());
    next.apply(change);
    return next.build(change.autoLeave());
  }

  static ConfState leaveJoint(ConfState current) {
    require(current.isJoint(), "configuration is not joint");
    Mutable next = new Mutable(current);
    next.learners.addAll(next.learnersNext);
    next.learnersNext.clear();
    next.outgoing.clear();
    return next.build(false);
  }

  static ConfState simple(ConfState current, ConfChange change) {
    require(!current.isJoint(), "a simple change cannot be applied to a joint configuration");
    Mutable next = new Mutable(current);
    next.apply(change);
    int changed = 0;
    for (long voter : next.incoming) {
      changed += current.voters().contains(voter) ? 0 : 1;
    }
    for (long voter : current.voters()) {
      changed += next.incoming.contains(voter) ? 0 : 1;
    }
    require(changed <= 1, "more than one voter changed without joint consensus");
    return next.build(false);
  }

  private static void require(boolean condition, String message) {
    if (!condition) {
      throw new IllegalArgumentException(message);
    }
  }

  private static final class Mutable {
    final Set<Long> incoming;
    final Set<Long> outgoing;
    final Set<Long> learners;
    final Set<Long> learnersNext;

    Mutable(ConfState state) {
      incoming = new TreeSet<>(state.voters());
      outgoing = new TreeSet<>(state.votersOutgoing());
      learners = new TreeSet<>(state.learners());
      learnersNext = new TreeSet<>(state.learnersNext());
    }

    void apply(ConfChange change) {
      for (ConfChange.Operation operation : change.operations()) {
        long id = operation.memberId();
        switch (operation.type()) {
          case ADD_VOTER -> {
            learners.remove(id);
            learnersNext.remove(id);
            incoming.add(id);
          }
          case ADD_LEARNER -> {
            incoming.remove(id);
            learners.remove(id);
            learnersNext.remove(id);
            // A voter of the outgoing half keeps voting there until the joint config is left.
            if (outgoing.contains(id)) {
              learnersNext.add(id);
            } else {
              learners.add(id);
            }
          }
          case REMOVE_MEMBER -> {
            incoming.remove(id);
            learners.remove(id);
            learnersNext.remove(id);
          }
        }
      }
      require(!incoming.isEmpty(), "removing all voters is not allowed");
    }

    ConfState build(boolean autoLeave) {
      for (long learner : learners) {
        Invariants.check(
            !incoming.contains(learner) && !outgoing.contains(learner),
            "member %d is both learner and voter",
            learner);
      }
      for (long next : learnersNext) {
        Invariants.check(outgoing.contains(next), "learnerNext %d is not an outgoing voter", next);
        Invariants.check(!learners.contains(next), "learnerNext %d is already a learner", next);
      }
      Invariants.check(
          !outgoing.isEmpty() || learnersNext.isEmpty(), "learnersNext outside a joint config");
      return new ConfState(
          incoming, learners, outgoing, learnersNext, autoLeave && !outgoing.isEmpty());
    }
  }
}
