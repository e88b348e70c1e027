package io.ringkv.server.transport;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Proves the reconnect delay: between half and all of min * 2^attempts, capped at the maximum,
 * jittered by the injected random source, and reproducible from its seed.
 */
class ReconnectBackoffTest {
  @Test
  void growsExponentiallyWithJitterAndIsCapped() {
    long seed = System.nanoTime();
    System.out.println("ReconnectBackoffTest seed " + seed);
    ReconnectBackoff backoff = new ReconnectBackoff(50, 2_000, new SplittableRandom(seed));
    for (int attempt = 0; attempt < 40; attempt++) {
      long ceiling = Math.min(2_000, 50L << Math.min(attempt, 30));
      long delay = backoff.delayMillis(attempt);
      assertThat(delay).as("seed %d attempt %d", seed, attempt).isBetween(ceiling / 2, ceiling);
    }
  }

  @Test
  void sameSeedGivesSameDelaysAndDelaysVary() {
    ReconnectBackoff first = new ReconnectBackoff(50, 2_000, new SplittableRandom(42));
    ReconnectBackoff second = new ReconnectBackoff(50, 2_000, new SplittableRandom(42));
    java.util.Set<Long> distinct = new java.util.HashSet<>();
    for (int i = 0; i < 20; i++) {
      long delay = first.delayMillis(10);
      assertThat(second.delayMillis(10)).isEqualTo(delay);
      distinct.add(delay);
    }
    assertThat(distinct.size()).isGreaterThan(5);
  }
}
