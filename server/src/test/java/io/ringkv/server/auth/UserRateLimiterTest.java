package io.ringkv.server.auth;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Proves the per-user token bucket on a fake clock: a burst is allowed, the next request is refused
 * with the wait until one token is back, that wait is exact, users do not share a bucket, and 0
 * turns the limit off.
 */
class UserRateLimiterTest {
  private final AtomicLong nanos = new AtomicLong(1_000_000_000L);

  @Test
  void burstThenRefusedWithRetryHintThenRecovers() {
    UserRateLimiter limiter = new UserRateLimiter(10, 3, nanos::get);
    for (int i = 0; i < 3; i++) {
      assertThat(limiter.acquire("alice").allowed()).as("burst request %d", i).isTrue();
    }
    UserRateLimiter.Decision refused = limiter.acquire("alice");
    assertThat(refused.allowed()).isFalse();
    assertThat(refused.retryAfterMillis()).isEqualTo(100); // one token at 10 per second
    assertThat(limiter.acquire("bob").allowed()).as("another user's bucket").isTrue();

    nanos.addAndGet(TimeUnit.MILLISECONDS.toNanos(99));
    assertThat(limiter.acquire("alice").allowed()).as("before the hinted wait").isFalse();
    nanos.addAndGet(TimeUnit.MILLISECONDS.toNanos(1));
    assertThat(limiter.acquire("alice").allowed()).as("after the hinted wait").isTrue();
  }

  @Test
  void defaultBurstIsOneSecondOfRate() {
    UserRateLimiter limiter = new UserRateLimiter(5, 0, nanos::get);
    int allowed = 0;
    for (int i = 0; i < 100 && limiter.acquire("alice").allowed(); i++) {
      allowed++;
    }
    assertThat(allowed).isEqualTo(5);
  }

  @Test
  void zeroIsOff() {
    UserRateLimiter limiter = new UserRateLimiter(0, 0, nanos::get);
    assertThat(limiter.enabled()).isFalse();
    for (int i = 0; i < 10_000; i++) {
      assertThat(limiter.acquire("alice").allowed()).isTrue();
    }
  }

  @Test
  void retainForgetsDeletedUsers() {
    UserRateLimiter limiter = new UserRateLimiter(1, 1, nanos::get);
    assertThat(limiter.acquire("alice").allowed()).isTrue();
    assertThat(limiter.acquire("alice").allowed()).isFalse();
    limiter.retain(Set.of("bob"));
    assertThat(limiter.acquire("alice").allowed()).as("a fresh bucket").isTrue();
  }
}
