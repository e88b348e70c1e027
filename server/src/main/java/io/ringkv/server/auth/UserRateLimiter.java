package io.ringkv.server.auth;

import io.ringkv.raft.Invariants;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * One token bucket per user on this node: {@code requestsPerSecondMax} tokens a second, holding at
 * most {@code burstMax}; a request takes one token, or is refused with the wait until the next one.
 * The limit is per node: a request forwarded to another node counts there too (once per hop), and a
 * client spreading its requests over N nodes gets up to N times the rate.
 */
public final class UserRateLimiter {
  /** 0: the limit is off. */
  private final long requestsPerSecondMax;

  private final long burstMax;
  private final LongSupplier nanoClock;
  private final Map<String, Bucket> buckets = new ConcurrentHashMap<>();

  /** The answer to one request: allowed, or refused with the wait before one is allowed. */
  public record Decision(boolean allowed, long retryAfterMillis) {}

  private static final Decision ALLOWED = new Decision(true, 0);

  private static final class Bucket {
    double tokens;
    long refilledNanos;

    Bucket(double tokens, long nowNanos) {
      this.tokens = tokens;
      this.refilledNanos = nowNanos;
    }
  }

  /**
   * @param requestsPerSecondMax tokens per second per user, 0 = off
   * @param burstMax bucket size, 0 = one second's worth ({@code requestsPerSecondMax})
   */
  public UserRateLimiter(long requestsPerSecondMax, long burstMax, LongSupplier nanoClock) {
    Invariants.check(requestsPerSecondMax >= 0 && burstMax >= 0, "negative rate limit");
    this.requestsPerSecondMax = requestsPerSecondMax;
    this.burstMax = burstMax == 0 ? requestsPerSecondMax : burstMax;
    this.nanoClock = nanoClock;
  }

  public boolean enabled() {
    return requestsPerSecondMax > 0;
  }

  /** Takes one token of {@code user}'s bucket, or says how long until one is there. */
  public Decision acquire(String user) {
    if (requestsPerSecondMax == 0) {
      return ALLOWED;
    }
    long now = nanoClock.getAsLong();
    Bucket bucket = buckets.computeIfAbsent(user, name -> new Bucket(burstMax, now));
    synchronized (bucket) {
      long elapsed = Math.max(0, now - bucket.refilledNanos);
      bucket.tokens =
          Math.min(burstMax, bucket.tokens + elapsed * (double) requestsPerSecondMax / 1e9);
      bucket.refilledNanos = Math.max(bucket.refilledNanos, now);
      Invariants.check(bucket.tokens >= 0 && bucket.tokens <= burstMax, "bucket out of bounds");
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return ALLOWED;
      }
      double missing = 1 - bucket.tokens;
      long waitMillis =
          (long) Math.ceil(missing * TimeUnit.SECONDS.toMillis(1) / requestsPerSecondMax);
      return new Decision(false, Math.max(1, waitMillis));
    }
  }

  /** Forgets the buckets of users no longer in {@code users} (so deleted users free memory). */
  public void retain(Set<String> users) {
    buckets.keySet().retainAll(users);
  }
}
