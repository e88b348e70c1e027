package io.ringkv.gossip;

/**
 * One membership fact spread by gossip: {@code memberId} is in {@code state} at {@code
 * incarnation}, as claimed by {@code fromId} (who suspected it or declared it dead; the member
 * itself for alive and left). Only the member itself raises its own incarnation, which is how it
 * refutes a suspicion. {@code degraded} is the member's own word that it is slow (it hands its work
 * to others): the member sets it on an alive update with a new incarnation, and push-pull repeats
 * it with that incarnation.
 */
public record Update(
    String memberId,
    String address,
    MemberState state,
    long incarnation,
    String fromId,
    boolean degraded) {
  public Update {
    WireLimits.checkMemberId(memberId);
    WireLimits.checkAddress(address);
    WireLimits.checkMemberId(fromId);
    Invariants.check(state != null, "update about %s without a state", memberId);
    Invariants.check(incarnation >= 0, "negative incarnation %s for %s", incarnation, memberId);
    Invariants.check(
        !degraded || state == MemberState.ALIVE,
        "only an alive update may say %s is degraded",
        memberId);
  }

  /** An update that says nothing of the member's health. */
  public Update(
      String memberId, String address, MemberState state, long incarnation, String fromId) {
    this(memberId, address, state, incarnation, fromId, false);
  }
}
