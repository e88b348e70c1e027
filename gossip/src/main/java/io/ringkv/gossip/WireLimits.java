package io.ringkv.gossip;

/**
 * Size limits of gossip packets, shared by the core (which packs piggybacked updates into a byte
 * budget) and the transport (which encodes them). The bounds are upper bounds of a protobuf
 * encoding: every string costs its bytes plus a tag and a length prefix of at most two bytes each,
 * every integer at most a tag and ten bytes. The transport checks each encoded packet against
 * {@link #PACKET_BYTES_MAX}, and a test encodes worst-case packets to prove the bounds hold.
 */
public final class WireLimits {
  /** Largest datagram: fits a 1,500-byte Ethernet frame with IP and UDP headers and some slack. */
  public static final int PACKET_BYTES_MAX = 1_400;

  public static final int MEMBER_ID_BYTES_MAX = 64;
  public static final int ADDRESS_BYTES_MAX = 64;
  public static final int CLUSTER_ID_BYTES_MAX = 64;

  /** Tag and length prefix of a string or embedded message (lengths below 16 KiB). */
  static final int FIELD_OVERHEAD_BYTES_MAX = 3;

  /** Tag plus a ten-byte varint. */
  static final int INTEGER_FIELD_BYTES_MAX = 11;

  /**
   * Envelope fields: cluster id, sender id and address, the message kind, sequence, target id and
   * address, and the wrappers of the envelope and the message.
   */
  public static final int HEADER_BYTES_MAX =
      CLUSTER_ID_BYTES_MAX
          + 2 * MEMBER_ID_BYTES_MAX
          + 2 * ADDRESS_BYTES_MAX
          + 3 * INTEGER_FIELD_BYTES_MAX
          + 10 * FIELD_OVERHEAD_BYTES_MAX;

  /**
   * What the transport adds around an encoded packet when gossip is encrypted: a version byte, a
   * 12-byte nonce and a 16-byte authentication tag. The budget reserves it whether or not a key is
   * set, so turning encryption on never makes a full packet too big.
   */
  public static final int SEAL_BYTES_MAX = 1 + 12 + 16;

  /** Budget left for piggybacked updates in one datagram. */
  public static final int UPDATE_BUDGET_BYTES =
      PACKET_BYTES_MAX - HEADER_BYTES_MAX - SEAL_BYTES_MAX;

  private WireLimits() {}

  static {
    Invariants.check(
        UPDATE_BUDGET_BYTES
            >= 4 * updateBytesBound(MEMBER_ID_BYTES_MAX, MEMBER_ID_BYTES_MAX, ADDRESS_BYTES_MAX),
        "a datagram must hold at least four worst-case updates, budget %s",
        UPDATE_BUDGET_BYTES);
  }

  /** Upper bound of the encoded size of {@code update}, its wrapper included. */
  public static int updateBytesBound(Update update) {
    return updateBytesBound(
        utf8Length(update.memberId()), utf8Length(update.fromId()), utf8Length(update.address()));
  }

  private static int updateBytesBound(int memberIdBytes, int fromIdBytes, int addressBytes) {
    // member id, from id, address, incarnation, state, degraded, and the update's own wrapper.
    return memberIdBytes
        + fromIdBytes
        + addressBytes
        + 3 * FIELD_OVERHEAD_BYTES_MAX
        + 3 * INTEGER_FIELD_BYTES_MAX
        + FIELD_OVERHEAD_BYTES_MAX;
  }

  static void checkMemberId(String memberId) {
    Invariants.check(
        memberId != null && !memberId.isEmpty() && utf8Length(memberId) <= MEMBER_ID_BYTES_MAX,
        "member id must have 1 to %s bytes: %s",
        MEMBER_ID_BYTES_MAX,
        memberId);
  }

  static void checkAddress(String address) {
    Invariants.check(
        address != null && !address.isEmpty() && utf8Length(address) <= ADDRESS_BYTES_MAX,
        "address must have 1 to %s bytes: %s",
        ADDRESS_BYTES_MAX,
        address);
  }

  /** UTF-8 length without allocating: the core asks for it on every packet it fills. */
  static int utf8Length(String text) {
    int bytes = 0;
    for (int index = 0; index < text.length(); index++) {
      char c = text.charAt(index);
      if (c < 0x80) {
        bytes += 1;
      } else if (c < 0x800) {
        bytes += 2;
      } else if (Character.isHighSurrogate(c)) {
        bytes += 4;
        index++;
      } else {
        bytes += 3;
      }
    }
    return bytes;
  }
}
