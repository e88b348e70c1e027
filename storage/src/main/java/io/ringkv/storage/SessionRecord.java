package io.ringkv.storage;

import io.ringkv.raft.Invariants;

/**
 * The last request a client session applied, kept so a retried request is answered, not applied
 * twice; or, with {@code removed}, the order to delete an expired session's record.
 *
 * @param sessionId the client session
 * @param lastSequence the highest sequence number applied for it
 * @param response the encoded response to that request (empty for a removal)
 * @param removed whether this deletes the session's record instead of writing it
 */
public record SessionRecord(long sessionId, long lastSequence, byte[] response, boolean removed) {
  public SessionRecord {
    Invariants.check(response != null, "session response must not be null");
    Invariants.check(lastSequence >= 0, "negative sequence %d", lastSequence);
    Invariants.check(
        !removed || (response.length == 0 && lastSequence == 0),
        "a session removal carries no response");
  }

  public SessionRecord(long sessionId, long lastSequence, byte[] response) {
    this(sessionId, lastSequence, response, false);
  }

  /** The order to delete {@code sessionId}'s record. */
  public static SessionRecord removal(long sessionId) {
    return new SessionRecord(sessionId, 0, new byte[0], true);
  }
}
