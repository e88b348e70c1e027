package io.ringkv.server.gossip;

import static org.assertj.core.api.Assertions.assertThat;

import io.ringkv.gossip.MemberState;
import io.ringkv.gossip.Message;
import io.ringkv.gossip.Packet;
import io.ringkv.gossip.Update;
import io.ringkv.gossip.WireLimits;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Proves the datagram bound: the fullest packet the core can build (longest ids, addresses and
 * cluster id, largest numbers, as many updates as the core's byte budget admits) encodes within
 * 1,400 bytes also once sealed for encrypted gossip; that a packet round-trips; and that envelopes
 * of another cluster or garbage are refused with their reason.
 */
class GossipWireCodecTest {
  private static final String LONGEST_ID = "i".repeat(WireLimits.MEMBER_ID_BYTES_MAX);
  private static final String LONGEST_ADDRESS = "a".repeat(WireLimits.ADDRESS_BYTES_MAX);
  private static final String LONGEST_CLUSTER = "c".repeat(WireLimits.CLUSTER_ID_BYTES_MAX);

  @Test
  void theFullestDatagramFitsTheBound() {
    Update worst =
        new Update(LONGEST_ID, LONGEST_ADDRESS, MemberState.SUSPECT, Long.MAX_VALUE, LONGEST_ID);
    int count = WireLimits.UPDATE_BUDGET_BYTES / WireLimits.updateBytesBound(worst);
    List<Update> updates = new ArrayList<>();
    for (int index = 0; index < count; index++) {
      updates.add(worst);
    }
    // Fill what the worst-case updates leave of the budget with one update of shorter ids, as the
    // core does when it packs a mix.
    int left = WireLimits.UPDATE_BUDGET_BYTES - count * WireLimits.updateBytesBound(worst);
    Update filler = filler(left);
    if (filler != null) {
      updates.add(filler);
    }
    GossipWireCodec codec = new GossipWireCodec(LONGEST_CLUSTER);
    GossipKeyring keyring = GossipKeyring.parse("A".repeat(43) + "=");
    GossipCipher cipher = new GossipCipher(LONGEST_CLUSTER, () -> keyring, new SplittableRandom(1));
    List<Message> fullest =
        List.of(
            new Message.Ping(Long.MAX_VALUE, LONGEST_ID, updates),
            new Message.PingRequest(Long.MAX_VALUE, LONGEST_ID, LONGEST_ADDRESS, updates),
            new Message.Ack(Long.MAX_VALUE, updates),
            new Message.Nack(Long.MAX_VALUE, updates),
            new Message.Gossip(updates));
    for (Message message : fullest) {
      byte[] bytes =
          codec.encode(new Packet(LONGEST_ID, LONGEST_ADDRESS, LONGEST_ADDRESS, message));
      assertThat(bytes.length).as("%s", message.getClass()).isLessThanOrEqualTo(1_400);
      System.out.println(
          message.getClass().getSimpleName()
              + " fullest: "
              + bytes.length
              + " bytes, sealed "
              + cipher.seal(bytes).length);
      assertThat(cipher.seal(bytes).length)
          .as("sealed %s", message.getClass())
          .isLessThanOrEqualTo(WireLimits.PACKET_BYTES_MAX);
    }
    assertThat(count).isGreaterThanOrEqualTo(4);
    // By the bounds alone (the encodings above stay well below them): the header, the update
    // budget and the sealing overhead together fit one datagram.
    assertThat(
            WireLimits.HEADER_BYTES_MAX
                + WireLimits.UPDATE_BUDGET_BYTES
                + WireLimits.SEAL_BYTES_MAX)
        .isLessThanOrEqualTo(WireLimits.PACKET_BYTES_MAX);
  }

  /** The largest update whose bound fits {@code bytes}, or null when none does. */
  private static Update filler(int bytes) {
    for (int idBytes = WireLimits.MEMBER_ID_BYTES_MAX; idBytes >= 1; idBytes--) {
      String id = "f".repeat(idBytes);
      Update update = new Update(id, id, MemberState.SUSPECT, Long.MAX_VALUE, LONGEST_ID);
      if (WireLimits.updateBytesBound(update) <= bytes) {
        return update;
      }
    }
    return null;
  }

  @Test
  void aPacketRoundTripsAndOtherClustersAreRefused() {
    GossipWireCodec codec = new GossipWireCodec("ring-a");
    Packet packet =
        new Packet(
            "n1",
            "127.0.0.220:7380",
            "127.0.0.221:7380",
            new Message.PingRequest(
                7,
                "n3",
                "127.0.0.222:7380",
                List.of(new Update("n3", "127.0.0.222:7380", MemberState.DEAD, 4, "n1"))));
    byte[] bytes = codec.encode(packet);
    GossipWireCodec.Decoded decoded = codec.decode(bytes, "127.0.0.221:7380");
    assertThat(decoded.packet()).isEqualTo(packet);
    assertThat(new GossipWireCodec("ring-b").decode(bytes, "x:1").dropReason())
        .isEqualTo(GossipWireCodec.DropReason.FOREIGN_CLUSTER);
    assertThat(codec.decode(new byte[] {(byte) 0xff, 1, 2}, "x:1").dropReason())
        .isEqualTo(GossipWireCodec.DropReason.MALFORMED);
  }
}
