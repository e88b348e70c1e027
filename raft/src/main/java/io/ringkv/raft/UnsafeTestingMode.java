package io.ringkv.raft;

/**
 * Deliberately broken variants of the core. They exist only so that tests can prove the simulation
 * detects real safety bugs; {@link Config.Builder#build()} refuses them unless the caller
 * explicitly allows unsafe modes.
 */
public enum UnsafeTestingMode {
  /**
   * A leader commits any entry replicated on a quorum, even one from an earlier term (the bug of
   * figure 8 of the Raft paper). Like the leaders of that figure, a new leader also appends no
   * empty entry of its term, which would otherwise often hide the bug.
   */
  COMMIT_PREVIOUS_TERM_BY_COUNTING,
  /** The vote is never reported in hard state, so a restarted member forgets whom it voted for. */
  FORGET_VOTE_ON_RESTART,
  /** A leader answers ReadIndex at once, without the quorum heartbeat round. */
  READ_INDEX_WITHOUT_QUORUM_CHECK
}
