package io.ringkv.gossip;

/** A change in how the local member sees another one, in the order the core decided it. */
public record MemberEvent(Kind kind, String memberId, long incarnation, long tick) {
  /** What changed. */
  public enum Kind {
    /** First heard of. */
    JOINED,
    SUSPECTED,
    /** Alive again after being suspected, declared dead or having left. */
    ALIVE,
    DECLARED_DEAD,
    LEFT
  }
}
