package io.ringkv.server.raft;

/** Why the driver could not serve a proposal or read. The gRPC layer maps the kind to a status. */
public final class DriverException extends RuntimeException {
  /** What went wrong. */
  public enum Kind {
    /** This replica does not lead the partition (leaderHint may name who does). */
    NOT_LEADER,
    /** Too many proposals are pending on this partition. */
    OVERLOADED,
    /**
     * Leadership was lost or the node is stopping while the request was pending: outcome unknown.
     */
    UNAVAILABLE,
    /** This node holds no replica of the partition. */
    NOT_HOSTED
  }

  private final Kind kind;
  private final int partition;
  private final long leaderHint;

  public DriverException(Kind kind, int partition, long leaderHint, String message) {
    super(message, null, false, false);
    this.kind = kind;
    this.partition = partition;
    this.leaderHint = leaderHint;
  }

  public Kind kind() {
    return kind;
  }

  public int partition() {
    return partition;
  }

  public long leaderHint() {
    return leaderHint;
  }
}
