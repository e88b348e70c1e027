package io.ringkv.server.auth;

import com.google.protobuf.ByteString;
import io.ringkv.proto.internal.StoredUser;
import io.ringkv.raft.Invariants;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.random.RandomGenerator;

/**
 * Bearer tokens: {@code <user>.<secret>}, the secret 256 random bits in base64url. A node stores
 * only SHA-256(salt || secret) with a random per-user salt. A slow hash (bcrypt, scrypt) protects
 * guessable passwords; a 256-bit random secret cannot be guessed, so one SHA-256 is enough and a
 * check costs about a microsecond instead of etcd's ~100 ms bcrypt per password check.
 */
public final class Tokens {
  /** A token as handed to the user once, and what is stored of it. */
  public record Issued(String token, ByteString salt, ByteString hash) {}

  private Tokens() {}

  /** A fresh token for {@code user}, drawn from {@code random} (a SecureRandom in a node). */
  public static Issued issue(String user, RandomGenerator random) {
    Invariants.check(AuthLimits.validName(user), "token for an invalid user name");
    byte[] secret = new byte[AuthLimits.SECRET_BYTES];
    random.nextBytes(secret);
    byte[] salt = new byte[AuthLimits.SALT_BYTES];
    random.nextBytes(salt);
    String secretText = Base64.getUrlEncoder().withoutPadding().encodeToString(secret);
    return new Issued(
        user + "." + secretText,
        ByteString.copyFrom(salt),
        ByteString.copyFrom(sha256(salt, secretText.getBytes(StandardCharsets.US_ASCII))));
  }

  /** The user a token names, or null when it has no user part. */
  static String userOf(String token) {
    int dot = token.lastIndexOf('.');
    return dot <= 0 ? null : token.substring(0, dot);
  }

  /** Whether {@code token} is {@code user}'s (constant time in the hash comparison). */
  static boolean matches(StoredUser user, String token) {
    int dot = token.lastIndexOf('.');
    if (dot <= 0 || !token.substring(0, dot).equals(user.getName())) {
      return false;
    }
    byte[] secret = token.substring(dot + 1).getBytes(StandardCharsets.UTF_8);
    byte[] hash = sha256(user.getTokenSalt().toByteArray(), secret);
    return MessageDigest.isEqual(hash, user.getTokenHash().toByteArray());
  }

  /** A fresh nodes' token (base64url of 256 random bits). */
  static String issueNodeToken(RandomGenerator random) {
    byte[] secret = new byte[AuthLimits.SECRET_BYTES];
    random.nextBytes(secret);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(secret);
  }

  static byte[] sha256(byte[] salt, byte[] secret) {
    try {
      MessageDigest digest = MessageDigest.getInstance("SHA-256");
      digest.update(salt);
      return digest.digest(secret);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }
}
