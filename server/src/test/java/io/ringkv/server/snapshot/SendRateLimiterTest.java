package io.ringkv.server.snapshot;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * Proves the snapshot send rate cap on a stepped clock: after an idle period one chunk (the burst)
 * goes at once; a stream of chunks is paced to the rate, whatever the chunk sizes; two senders
 * share one rate; and an idle period does not bank more than the burst.
 */
class SendRateLimiterTest {
  private static final long RATE = 1_000_000; // bytes per second: 1 byte per microsecond
  private static final long CHUNK = 10_000;

  private long now = 5_000_000_000L;

  @Test
  void chunksArePacedToTheRateAfterOneBurst() {
    SendRateLimiter limiter = new SendRateLimiter(RATE, CHUNK, () -> now);
    assertThat(limiter.reserve(CHUNK)).as("the burst goes at once").isZero();
    long waited = 0;
    for (int i = 0; i < 100; i++) {
      long wait = limiter.reserve(CHUNK);
      waited += wait;
      now += wait; // the sender sleeps that long, then sends
    }
    // 100 chunks of 10 ms each at the rate: 1 s, whatever the burst let through first.
    assertThat(waited).isEqualTo(1_000_000_000L);
  }

  @Test
  void twoSendersShareOneRate() {
    SendRateLimiter limiter = new SendRateLimiter(RATE, CHUNK, () -> now);
    long first = limiter.reserve(CHUNK);
    long second = limiter.reserve(CHUNK);
    long third = limiter.reserve(CHUNK);
    assertThat(first).isZero();
    assertThat(second).isEqualTo(10_000_000L);
    assertThat(third).as("queued behind the second").isEqualTo(20_000_000L);
  }

  @Test
  void idleTimeBanksNoMoreThanTheBurst() {
    SendRateLimiter limiter = new SendRateLimiter(RATE, CHUNK, () -> now);
    now += 60_000_000_000L; // a minute idle
    assertThat(limiter.reserve(CHUNK)).isZero();
    assertThat(limiter.reserve(CHUNK)).isEqualTo(10_000_000L);
  }
}
