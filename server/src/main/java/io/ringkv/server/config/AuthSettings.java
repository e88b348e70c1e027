package io.ringkv.server.config;

/**
 * The per-user request rate a node allows once auth is on.
 *
 * @param userRequestsPerSecondMax requests per second one user may make of this node (a token
 *     bucket); 0 = no limit
 * @param userRequestBurstMax requests a user may make at once after being idle (the bucket's size);
 *     0 = one second's worth ({@code userRequestsPerSecondMax})
 */
public record AuthSettings(long userRequestsPerSecondMax, long userRequestBurstMax) {
  /** Off: a cluster turns the limit on when it knows what its users need. */
  public static final long USER_REQUESTS_PER_SECOND_MAX_DEFAULT = 0;

  public static final long USER_REQUEST_BURST_MAX_DEFAULT = 0;

  public static final AuthSettings DEFAULTS =
      new AuthSettings(USER_REQUESTS_PER_SECOND_MAX_DEFAULT, USER_REQUEST_BURST_MAX_DEFAULT);

  public AuthSettings {
    if (userRequestsPerSecondMax < 0) {
      throw new ConfigException(
          "auth-user-requests-per-second-max", "must be >= 0, got " + userRequestsPerSecondMax);
    }
    if (userRequestBurstMax < 0) {
      throw new ConfigException(
          "auth-user-request-burst-max", "must be >= 0, got " + userRequestBurstMax);
    }
  }
}
