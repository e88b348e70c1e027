package io.ringkv.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Proves backoff ceilings double up to the cap without overflow and every jittered delay stays in
 * [ceiling/2, ceiling], and that jitter actually spreads delays (seeded; the seed is printed).
 */
class BackoffTest {
  private static final long MS = 1_000_000L;

  @Test
  void ceilingsDoubleThenCap() {
    Backoff backoff = new Backoff(20 * MS, 1000 * MS, new SplittableRandom(1));
    assertThat(backoff.ceilingNanos(0)).isEqualTo(20 * MS);
    assertThat(backoff.ceilingNanos(1)).isEqualTo(40 * MS);
    assertThat(backoff.ceilingNanos(5)).isEqualTo(640 * MS);
    assertThat(backoff.ceilingNanos(6)).isEqualTo(1000 * MS);
    assertThat(backoff.ceilingNanos(63)).isEqualTo(1000 * MS);
    assertThat(backoff.ceilingNanos(Integer.MAX_VALUE)).isEqualTo(1000 * MS);
  }

  @Test
  void jitteredDelaysStayInBoundsAndSpread() {
    long seed = System.nanoTime();
    System.out.println("BackoffTest seed " + seed);
    Backoff backoff = new Backoff(20 * MS, 1000 * MS, new SplittableRandom(seed));
    for (int retry = 0; retry < 12; retry++) {
      long ceiling = backoff.ceilingNanos(retry);
      long min = Long.MAX_VALUE;
      long max = Long.MIN_VALUE;
      for (int i = 0; i < 200; i++) {
        long delay = backoff.delayNanos(retry);
        assertThat(delay).as("seed %d retry %d", seed, retry).isBetween(ceiling / 2, ceiling);
        min = Math.min(min, delay);
        max = Math.max(max, delay);
      }
      // 200 uniform draws over half the ceiling cover well over a quarter of it.
      assertThat(max - min).as("seed %d retry %d", seed, retry).isGreaterThan(ceiling / 8);
    }
  }

  @Test
  void rejectsNonsense() {
    assertThatThrownBy(() -> new Backoff(0, 1, new SplittableRandom(1)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new Backoff(10, 5, new SplittableRandom(1)))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
