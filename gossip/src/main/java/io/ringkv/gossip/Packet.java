package io.ringkv.gossip;

/**
 * A message between two members. The core addresses packets by address because a joining member
 * knows only its seeds' addresses; {@code fromId} and {@code fromAddress} let the receiver answer.
 */
public record Packet(String fromId, String fromAddress, String toAddress, Message message) {
  public Packet {
    WireLimits.checkMemberId(fromId);
    WireLimits.checkAddress(fromAddress);
    WireLimits.checkAddress(toAddress);
    Invariants.check(message != null, "packet from %s without a message", fromId);
  }
}
