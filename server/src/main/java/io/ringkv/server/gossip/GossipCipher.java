package io.ringkv.server.gossip;

import io.ringkv.gossip.Invariants;
import io.ringkv.gossip.WireLimits;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.Arrays;
import java.util.function.Supplier;
import java.util.random.RandomGenerator;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;

/**
 * Seals gossip envelopes with AES-256-GCM and opens them, so that only holders of the cluster's
 * gossip key can read membership or change a node's view of it.
 *
 * <p>A sealed envelope is {@code version (1 byte) | nonce (12) | ciphertext | tag (16)}. The nonce
 * is random per message: gossip has no counter that survives restarts, and at gossip's rate (tens
 * of packets a second) random 96-bit nonces stay far below the 2^32 messages per key at which GCM
 * nonce collisions become a concern. The associated data is the version byte and the cluster id, so
 * a packet of another cluster that shares the key, or one whose version byte was changed, does not
 * open. The version byte is 1 because a protobuf envelope can never start with it (it would be
 * field number 0), so a node without the key drops a sealed packet as malformed.
 *
 * <p>Used on the gossip thread only, but keeps no state between calls except the key supplier.
 */
final class GossipCipher {
  static final byte VERSION = 1;
  static final int NONCE_BYTES = 12;
  static final int TAG_BYTES = 16;
  static final int OVERHEAD_BYTES = 1 + NONCE_BYTES + TAG_BYTES;

  private static final String TRANSFORMATION = "AES/GCM/NoPadding";

  static {
    Invariants.check(
        OVERHEAD_BYTES == WireLimits.SEAL_BYTES_MAX,
        "the wire budget reserves %s bytes for sealing, sealing adds %s",
        WireLimits.SEAL_BYTES_MAX,
        OVERHEAD_BYTES);
  }

  private final byte[] associatedData;
  private final Supplier<GossipKeyring> keys;
  private final RandomGenerator nonces;

  /**
   * @param keys the node's current keys (read on every packet, so a reload takes effect at once)
   * @param nonces source of nonces: a SecureRandom in a node, a seeded generator in tests
   */
  GossipCipher(String clusterId, Supplier<GossipKeyring> keys, RandomGenerator nonces) {
    byte[] cluster = clusterId.getBytes(StandardCharsets.UTF_8);
    this.associatedData = new byte[1 + cluster.length];
    this.associatedData[0] = VERSION;
    System.arraycopy(cluster, 0, associatedData, 1, cluster.length);
    this.keys = keys;
    this.nonces = nonces;
  }

  /** The envelope sealed with the first key. */
  byte[] seal(byte[] envelope) {
    byte[] sealed = new byte[OVERHEAD_BYTES + envelope.length];
    sealed[0] = VERSION;
    byte[] nonce = new byte[NONCE_BYTES];
    nonces.nextBytes(nonce);
    System.arraycopy(nonce, 0, sealed, 1, NONCE_BYTES);
    try {
      Cipher cipher = cipher(Cipher.ENCRYPT_MODE, keys.get().sealing(), nonce);
      int written = cipher.doFinal(envelope, 0, envelope.length, sealed, 1 + NONCE_BYTES);
      Invariants.check(written == envelope.length + TAG_BYTES, "GCM wrote %s bytes", written);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("AES-GCM is part of every JDK", e);
    }
    return sealed;
  }

  /**
   * The envelope inside {@code sealed}, or null when no key opens it: plaintext, truncated,
   * tampered, sealed with another key or for another cluster.
   */
  byte[] open(byte[] sealed) {
    if (sealed.length < OVERHEAD_BYTES || sealed[0] != VERSION) {
      return null;
    }
    byte[] nonce = Arrays.copyOfRange(sealed, 1, 1 + NONCE_BYTES);
    for (SecretKey key : keys.get().keys()) {
      try {
        Cipher cipher = cipher(Cipher.DECRYPT_MODE, key, nonce);
        return cipher.doFinal(sealed, 1 + NONCE_BYTES, sealed.length - 1 - NONCE_BYTES);
      } catch (AEADBadTagException e) {
        // Not this key (or not authentic at all): try the next one.
      } catch (GeneralSecurityException e) {
        throw new IllegalStateException("AES-GCM is part of every JDK", e);
      }
    }
    return null;
  }

  private Cipher cipher(int mode, SecretKey key, byte[] nonce) throws GeneralSecurityException {
    Cipher cipher = Cipher.getInstance(TRANSFORMATION);
    cipher.init(mode, key, new GCMParameterSpec(TAG_BYTES * 8, nonce));
    cipher.updateAAD(associatedData);
    return cipher;
  }
}
