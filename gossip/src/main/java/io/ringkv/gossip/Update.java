package io.ringkv.gossip;

/**
 * One membership fact spread by gossip: {@code memberId} is in {@code state} at {@code
 * incarnation}, as claimed by {@code fromId} (who suspected it or declared it dead; the member
 * itself for alive and left). Only the member itself raises its own incarnation, which is how it
 * refutes a suspicion.
 */
public record Update(
    String memberId, String address, MemberState state, long incarnation, String fromId) {
  public Update {
    WireLimits.checkMemberId(memberId);
    WireLimits.checkAddress(address);
    WireLimits.checkMemberId(fromId);
    Invariants.check(state != null, "update about %s without a state", memberId);
    Invariants.check(incarnation >= 0, "negative incarnation %s for %s", incarnation, memberId);
  }
}
