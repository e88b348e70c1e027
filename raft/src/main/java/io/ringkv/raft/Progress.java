package io.ringkv.raft;

/**
 * What the leader knows of one member's log. Invariant: {@code match < next}.
 *
 * <p>PROBE: the leader sends one append per heartbeat interval until it learns where the logs
 * match. REPLICATE: the leader streams appends optimistically, bounded by {@link Inflights}.
 * SNAPSHOT: the member needs a snapshot; nothing is sent until it reports back.
 */
final class Progress {
  enum State {
    PROBE,
    REPLICATE,
    SNAPSHOT
  }

  long match;
  long next;
  State state = State.PROBE;
  long pendingSnapshotIndex;

  /** Heard from since the last CheckQuorum round. */
  boolean recentActive;

  /** In PROBE: an append was sent and no reply or heartbeat response has come since. */
  boolean probeSent;

  boolean learner;

  /**
   * The leader's tick at which it sent the newest heartbeat this member acknowledged (-1: none).
   */
  long leaseAcknowledgedTick = -1;

  final Inflights inflights;

  Progress(long match, long next, Inflights inflights, boolean learner) {
    this.match = match;
    this.next = next;
    this.inflights = inflights;
    this.learner = learner;
    checkInvariants();
  }

  void becomeProbe() {
    // Leaving SNAPSHOT, resume right after the snapshot if it got there.
    if (state == State.SNAPSHOT) {
      long pending = pendingSnapshotIndex;
      reset(State.PROBE);
      next = Math.max(match + 1, pending + 1);
    } else {
      reset(State.PROBE);
      next = match + 1;
    }
  }

  void becomeReplicate() {
    reset(State.REPLICATE);
    next = match + 1;
  }

  void becomeSnapshot(long snapshotIndex) {
    reset(State.SNAPSHOT);
    pendingSnapshotIndex = snapshotIndex;
  }

  private void reset(State newState) {
    probeSent = false;
    pendingSnapshotIndex = 0;
    state = newState;
    inflights.reset();
  }

  /** Records an append of entries up to {@code lastIndex} just sent. */
  void sentEntries(int entryCount, long lastIndex, long sizeBytes) {
    if (state == State.REPLICATE) {
      if (entryCount > 0) {
        next = lastIndex + 1;
        inflights.add(lastIndex, sizeBytes);
      }
    } else if (state == State.PROBE) {
      probeSent = true;
    }
    checkInvariants();
  }

  /** An acknowledgement up to {@code index}; returns whether it told anything new. */
  boolean maybeUpdate(long index) {
    boolean updated = false;
    if (match < index) {
      match = index;
      updated = true;
      probeSent = false;
    }
    next = Math.max(next, index + 1);
    return updated;
  }

  /**
   * A rejection of the append at {@code rejectedIndex}; {@code matchHint} is the highest index the
   * logs may match at. Returns false when the rejection is stale.
   */
  boolean maybeDecreaseTo(long rejectedIndex, long matchHint) {
    if (state == State.REPLICATE) {
      // In flight appends make older rejections stale.
      if (rejectedIndex <= match) {
        return false;
      }
      next = match + 1;
      return true;
    }
    // In PROBE only the last probe (at next - 1) counts.
    if (next - 1 != rejectedIndex) {
      return false;
    }
    next = Math.max(Math.min(rejectedIndex, matchHint + 1), match + 1);
    probeSent = false;
    return true;
  }

  boolean isPaused() {
    return switch (state) {
      case PROBE -> probeSent;
      case REPLICATE -> inflights.full();
      case SNAPSHOT -> true;
    };
  }

  void checkInvariants() {
    Invariants.check(match < next, "progress match %d must be below next %d", match, next);
  }

  @Override
  public String toString() {
    return state + " match=" + match + " next=" + next + (learner ? " learner" : "");
  }
}
