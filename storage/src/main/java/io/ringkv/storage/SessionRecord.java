package io.ringkv.storage;

import io.ringkv.raft.Invariants;

/**
 * The last request a client session applied, kept so a retried request is answered, not applied
 * twice.
 *
 * @param sessionId the client session
 * @param lastSequence the highest sequence number applied for it
 * @param response the encoded response to that request
 */
public record SessionRecord(long sessionId, long lastSequence, byte[] response) {
  public SessionRecord {
    Invariants.check(response != null, "session response must not be null");
    Invariants.check(lastSequence >= 0, "negative sequence %d", lastSequence);
  }
}
