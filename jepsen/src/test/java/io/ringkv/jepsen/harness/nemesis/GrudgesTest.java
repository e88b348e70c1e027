package io.ringkv.jepsen.harness.nemesis;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Proves the partition shapes: halves split the nodes into two sides that hear nothing of each
 * other; an isolated node hears no one; in a majority ring every node still hears a majority
 * (itself included) but not all; a bridge node hears everyone while the two sides are cut; every
 * grudge is symmetric. Randomized over seeds, each printed on failure.
 */
class GrudgesTest {
  private static final List<Integer> FIVE = List.of(1, 2, 3, 4, 5);

  @Test
  void shapesHoldTheirPropertiesOverManySeeds() {
    for (long seed = 0; seed < 200; seed++) {
      String as = "seed " + seed;
      Map<Integer, Set<Integer>> halves = Grudges.halves(FIVE, new Random(seed));
      assertSymmetric(halves, as);
      long cutOff = halves.values().stream().filter(s -> s.size() == 3).count();
      assertThat(cutOff).as(as).isEqualTo(2); // the two-node side hears none of the three

      Map<Integer, Set<Integer>> ring = Grudges.majorityRing(FIVE, new Random(seed));
      assertSymmetric(ring, as);
      for (Set<Integer> unheard : ring.values()) {
        assertThat(5 - unheard.size()).as(as).isEqualTo(3);
      }

      Map<Integer, Set<Integer>> bridge = Grudges.bridge(FIVE, new Random(seed));
      assertSymmetric(bridge, as);
      assertThat(bridge.values().stream().filter(Set::isEmpty).count()).as(as).isEqualTo(1);
    }
    Map<Integer, Set<Integer>> isolated = Grudges.isolate(FIVE, 3);
    assertThat(isolated.get(3)).containsExactlyInAnyOrder(1, 2, 4, 5);
    assertThat(isolated.get(1)).containsExactly(3);
    assertThat(Grudges.droppedLinks(isolated)).hasSize(8);
  }

  private static void assertSymmetric(Map<Integer, Set<Integer>> grudge, String as) {
    grudge.forEach((node, unheard) -> {
      assertThat(unheard).as(as).doesNotContain(node);
      for (int other : unheard) {
        assertThat(grudge.get(other)).as(as).contains(node);
      }
    });
  }
}
