package io.ringkv.raft;

/** A proposal the core refused; the caller may retry later, possibly at another member. */
public final class ProposalDroppedException extends RuntimeException {
  /** Why the proposal was refused. */
  public enum Reason {
    NO_LEADER,
    NOT_LEADER_FORWARDING_DISABLED,
    LEADER_TRANSFER_IN_PROGRESS,
    UNCOMMITTED_BYTES_LIMIT,
    NOT_A_MEMBER,
    CONF_CHANGE_PENDING,
    INVALID_CONF_CHANGE
  }

  private final Reason reason;

  public ProposalDroppedException(Reason reason, String detail) {
    super(reason + ": " + detail);
    this.reason = reason;
  }

  public Reason reason() {
    return reason;
  }
}
