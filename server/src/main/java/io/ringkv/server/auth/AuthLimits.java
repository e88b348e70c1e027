package io.ringkv.server.auth;

import java.nio.charset.StandardCharsets;

/** The auth record's fixed facts: where it is stored, the built-in role, and its limits. */
public final class AuthLimits {
  /**
   * Key of the auth record in the meta group's store. The meta group holds no client keys (client
   * keys hash only into data partitions, and no client call names the meta group), so only the Auth
   * service can read or write it.
   */
  public static final byte[] RECORD_KEY = "\u0000ringkv/meta/auth".getBytes(StandardCharsets.UTF_8);

  /** The built-in role: cluster operations, auth management, and read-write on every key. */
  public static final String ADMIN_ROLE = "admin";

  /** User and role names: letters, digits, '-' and '_' (no '.', which splits a token). */
  public static final int NAME_LENGTH_MAX = 64;

  /** A permission's key prefix; keys themselves are bounded by key-size-bytes-max. */
  public static final int PREFIX_SIZE_BYTES_MAX = 64 * 1024;

  /**
   * The whole record travels as one value of the meta group and is held by every node: 1 MiB keeps
   * it well inside a Raft entry and leaves room for thousands of users and roles.
   */
  public static final int RECORD_SIZE_BYTES_MAX = 1024 * 1024;

  /** Distinct verified tokens a node remembers; past it the memory is cleared and refilled. */
  public static final int VERIFIED_TOKENS_MAX = 10_000;

  /** Random bytes of a user's token secret and of the nodes' token (256 bits). */
  public static final int SECRET_BYTES = 32;

  /** Random bytes of a user's salt. */
  public static final int SALT_BYTES = 16;

  private AuthLimits() {}

  /** Whether {@code name} is a valid user or role name. */
  static boolean validName(String name) {
    if (name.isEmpty() || name.length() > NAME_LENGTH_MAX) {
      return false;
    }
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      boolean ok =
          (c >= 'a' && c <= 'z')
              || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9')
              || c == '-'
              || c == '_';
      if (!ok) {
        return false;
      }
    }
    return true;
  }
}
