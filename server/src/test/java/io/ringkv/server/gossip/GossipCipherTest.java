package io.ringkv.server.gossip;

import static org.assertj.core.api.Assertions.assertThat;

import io.ringkv.gossip.MemberState;
import io.ringkv.gossip.Message;
import io.ringkv.gossip.Packet;
import io.ringkv.gossip.Update;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Proves gossip sealing: a sealed envelope opens to itself; one that was sealed with another key,
 * for another cluster, changed in any single byte, cut at any length, or never sealed at all does
 * not open; a node holding [new, old] keys opens what a node holding only [old] sealed (rotation);
 * nonces differ per message; and a node without a key drops a sealed packet as malformed.
 */
class GossipCipherTest {
  private static final String CLUSTER = "ring-a";
  private static final long SEED = 20261207L;

  private final SplittableRandom random = new SplittableRandom(SEED);

  {
    System.out.println("seed " + SEED);
  }

  private String key() {
    byte[] key = new byte[GossipKeyring.KEY_BYTES];
    random.nextBytes(key);
    return Base64.getEncoder().encodeToString(key);
  }

  private GossipCipher cipher(String cluster, String... keys) {
    GossipKeyring keyring = GossipKeyring.parse(String.join("\n", keys));
    return new GossipCipher(cluster, () -> keyring, random.split());
  }

  private static byte[] envelope() {
    return new GossipWireCodec(CLUSTER)
        .encode(
            new Packet(
                "n1",
                "127.0.16.1:7380",
                "127.0.16.2:7380",
                new Message.Ping(
                    3,
                    "n2",
                    List.of(new Update("n3", "127.0.16.3:7380", MemberState.DEAD, 9, "n1")))));
  }

  @Test
  void aSealedEnvelopeOpensToItselfAndCarriesTheOverhead() {
    GossipCipher cipher = cipher(CLUSTER, key());
    byte[] envelope = envelope();
    byte[] sealed = cipher.seal(envelope);
    assertThat(sealed).hasSize(envelope.length + GossipCipher.OVERHEAD_BYTES);
    assertThat(sealed[0]).isEqualTo(GossipCipher.VERSION);
    assertThat(cipher.open(sealed)).isEqualTo(envelope);
    byte[] again = cipher.seal(envelope);
    assertThat(Arrays.copyOfRange(again, 1, 1 + GossipCipher.NONCE_BYTES))
        .as("a fresh nonce per message")
        .isNotEqualTo(Arrays.copyOfRange(sealed, 1, 1 + GossipCipher.NONCE_BYTES));
    assertThat(cipher.open(again)).isEqualTo(envelope);
  }

  @Test
  void anotherKeyOrAnotherClusterDoesNotOpen() {
    String key = key();
    byte[] sealed = cipher(CLUSTER, key).seal(envelope());
    assertThat(cipher(CLUSTER, key()).open(sealed)).as("wrong key").isNull();
    assertThat(cipher("ring-b", key).open(sealed)).as("same key, other cluster").isNull();
  }

  @Test
  void everyChangedByteAndEveryTruncationIsRefused() {
    GossipCipher cipher = cipher(CLUSTER, key());
    byte[] sealed = cipher.seal(envelope());
    for (int index = 0; index < sealed.length; index++) {
      byte[] tampered = sealed.clone();
      tampered[index] ^= (byte) (1 + random.nextInt(255));
      assertThat(cipher.open(tampered)).as("byte %s changed", index).isNull();
    }
    for (int length = 0; length < sealed.length; length++) {
      assertThat(cipher.open(Arrays.copyOf(sealed, length))).as("cut to %s", length).isNull();
    }
  }

  @Test
  void plaintextIsRefusedWithAKeyAndSealedIsMalformedWithout() {
    GossipCipher cipher = cipher(CLUSTER, key());
    byte[] envelope = envelope();
    assertThat(cipher.open(envelope)).isNull();
    GossipWireCodec.Decoded decoded =
        new GossipWireCodec(CLUSTER).decode(cipher.seal(envelope), "127.0.16.2:7380");
    assertThat(decoded.packet()).isNull();
    assertThat(decoded.dropReason()).isEqualTo(GossipWireCodec.DropReason.MALFORMED);
  }

  @Test
  void duringRotationBothKeysOpenAndTheFirstSeals() {
    String oldKey = key();
    String newKey = key();
    GossipCipher onlyOld = cipher(CLUSTER, oldKey);
    GossipCipher newThenOld = cipher(CLUSTER, newKey, oldKey);
    GossipCipher oldThenNew = cipher(CLUSTER, oldKey, newKey);
    GossipCipher onlyNew = cipher(CLUSTER, newKey);
    byte[] envelope = envelope();
    assertThat(newThenOld.open(onlyOld.seal(envelope))).isEqualTo(envelope);
    assertThat(oldThenNew.open(newThenOld.seal(envelope))).isEqualTo(envelope);
    assertThat(onlyNew.open(newThenOld.seal(envelope))).isEqualTo(envelope);
    assertThat(onlyOld.open(newThenOld.seal(envelope))).as("sealed with the new key").isNull();
  }
}
