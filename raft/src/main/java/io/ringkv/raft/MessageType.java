package io.ringkv.raft;

/**
 * Messages exchanged between members. Local events (campaign, heartbeat, snapshot status,
 * unreachable) are methods of {@link RawNode}, not messages.
 */
public enum MessageType {
  /** A proposal forwarded from a follower to the leader. */
  PROPOSE,
  /** Leader to follower: entries after ({@code index}, {@code logTerm}), plus the commit index. */
  APPEND,
  /** Follower to leader: accepted up to {@code index}, or rejected with a hint. */
  APPEND_RESPONSE,
  VOTE,
  VOTE_RESPONSE,
  PRE_VOTE,
  PRE_VOTE_RESPONSE,
  /** Leader to a follower behind the compacted log: the whole snapshot. */
  SNAPSHOT,
  HEARTBEAT,
  HEARTBEAT_RESPONSE,
  /** Leader to the transfer target: campaign at once. */
  TIMEOUT_NOW,
  /** A leadership transfer request forwarded to the leader; {@code from} is the target. */
  TRANSFER_LEADER,
  /** A ReadIndex request forwarded to the leader, carrying the request context. */
  READ_INDEX,
  /** Leader to the requesting follower: the read index for the context. */
  READ_INDEX_RESPONSE;

  /** Whether messages of this type carry no term (requests stepped into a member locally). */
  boolean termless() {
    return this == PROPOSE || this == READ_INDEX || this == TRANSFER_LEADER;
  }

  /**
   * Whether a message of this type may be sent before the Ready that produced it has been
   * persisted: it does not vouch for anything the sender has not yet written (the leader's own
   * entries count towards commit only once persisted).
   */
  boolean sendableBeforePersistence() {
    return switch (this) {
      case APPEND,
          HEARTBEAT,
          SNAPSHOT,
          TIMEOUT_NOW,
          PROPOSE,
          TRANSFER_LEADER,
          READ_INDEX,
          READ_INDEX_RESPONSE ->
          true;
      case APPEND_RESPONSE, VOTE, VOTE_RESPONSE, PRE_VOTE, PRE_VOTE_RESPONSE, HEARTBEAT_RESPONSE ->
          false;
    };
  }
}
