package io.ringkv.gossip;

/** A member's liveness as one member sees it. */
public enum MemberState {
  /** Answers probes, or refuted the last suspicion about it. */
  ALIVE,
  /**
   * Missed a direct and an indirect probe; dead unless it refutes before its suspicion times out.
   */
  SUSPECT,
  /** Its suspicion timed out without a refutation. It may come back with a higher incarnation. */
  DEAD,
  /** Said goodbye; never probed again unless it rejoins with a higher incarnation. */
  LEFT
}
