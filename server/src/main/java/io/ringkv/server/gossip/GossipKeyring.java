package io.ringkv.server.gossip;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import javax.crypto.SecretKey;
import javax.crypto.spec.SecretKeySpec;

/**
 * The gossip keys of a node, as read from its key file: the first seals what the node sends, any of
 * them opens what it receives. That split is what lets operators rotate without a moment where two
 * nodes cannot hear each other: add the new key second everywhere, then move it first everywhere,
 * then drop the old one.
 */
record GossipKeyring(List<SecretKey> keys) {
  /** AES-256. */
  static final int KEY_BYTES = 32;

  /** Every key is tried on a packet that does not open, so their number is bounded. */
  static final int KEYS_MAX = 8;

  GossipKeyring {
    keys = List.copyOf(keys);
    if (keys.isEmpty() || keys.size() > KEYS_MAX) {
      throw new IllegalArgumentException(
          "a gossip key file holds 1 to " + KEYS_MAX + " keys, found " + keys.size());
    }
  }

  /**
   * Parses a key file: one key a line, base64 of 32 bytes; blank lines and lines starting with
   * {@code #} are skipped. Messages name the line, never its content.
   */
  static GossipKeyring parse(String text) {
    List<SecretKey> keys = new ArrayList<>();
    String[] lines = text.split("\n", -1);
    for (int index = 0; index < lines.length; index++) {
      String line = lines[index].strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      byte[] key;
      try {
        key = Base64.getDecoder().decode(line);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("line " + (index + 1) + " is not base64");
      }
      if (key.length != KEY_BYTES) {
        throw new IllegalArgumentException(
            "line " + (index + 1) + " holds " + key.length + " bytes, a key has " + KEY_BYTES);
      }
      keys.add(new SecretKeySpec(key, "AES"));
    }
    return new GossipKeyring(keys);
  }

  /** The key that seals outgoing packets. */
  SecretKey sealing() {
    return keys.getFirst();
  }

  /**
   * A short public name of a key for logs (the first 4 bytes of its SHA-256), so an operator can
   * check which key each node seals with without the key itself being logged.
   */
  static String keyId(SecretKey key) {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(key.getEncoded());
      return HexFormat.of().formatHex(digest, 0, 4);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }

  /** The key ids in file order, for logs. */
  List<String> keyIds() {
    return keys.stream().map(GossipKeyring::keyId).toList();
  }

  /** Never the keys themselves. */
  @Override
  public String toString() {
    return "GossipKeyring" + keyIds();
  }

  static GossipKeyring parse(byte[] file) {
    return parse(new String(file, StandardCharsets.UTF_8));
  }
}
