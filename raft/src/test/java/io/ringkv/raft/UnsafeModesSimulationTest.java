package io.ringkv.raft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Proves the simulation can fail: each deliberately broken variant of the core ({@link
 * UnsafeTestingMode}) must be caught as a safety violation within a stated number of seeds. Without
 * this, a green simulation would prove nothing.
 */
class UnsafeModesSimulationTest {
  /**
   * Each broken variant must be caught within this many seeds (from seed 1; the search stops at the
   * first violation). Measured detection rates: stale reads in most seeds, a double vote in about 1
   * seed of 20, figure 8 (a long chain of leader changes and crashes) in about 1 of 1,500. The
   * bounds leave a wide margin; a seed takes under 10 ms.
   */
  private static int seedsToFindViolationMax(UnsafeTestingMode mode) {
    return switch (mode) {
      case READ_INDEX_WITHOUT_QUORUM_CHECK -> 50;
      case FORGET_VOTE_ON_RESTART -> 200;
      case COMMIT_PREVIOUS_TERM_BY_COUNTING -> 6000;
    };
  }

  @ParameterizedTest
  @EnumSource(UnsafeTestingMode.class)
  void simulationFindsTheBug(UnsafeTestingMode mode) {
    int seedsMax = seedsToFindViolationMax(mode);
    Long failingSeed = null;
    String failure = null;
    for (long seed = 1; seed <= seedsMax && failingSeed == null; seed++) {
      Simulation.Result result =
          Simulation.run(seed, Simulation.Options.standard(seed).withUnsafe(mode));
      // Only a broken safety property counts; a stalled cluster proves nothing here.
      if (result.failed() && !(result.failure() instanceof Simulation.LivenessViolation)) {
        failingSeed = seed;
        failure = result.failure().getMessage();
      }
    }
    System.out.println(mode + ": first violating seed " + failingSeed + ": " + failure);
    assertThat(failingSeed).as("%s must break safety within %d seeds", mode, seedsMax).isNotNull();
  }

  @Test
  void productionConfigRefusesUnsafeModes() {
    assertThatThrownBy(() ->
            Config.builder(1).unsafeTestingMode(UnsafeTestingMode.FORGET_VOTE_ON_RESTART).build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("refused outside tests");
  }
}
