package io.ringkv.raft;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * Runs the deterministic simulation ({@link Simulation}) over a range of seeds and fails if any
 * seed breaks a safety property or liveness after healing. Seeds alternate between 3- and 5-voter
 * groups.
 *
 * <p>{@code -Dsim.seeds=N -Dsim.firstSeed=S} choose the range (default: a CI-sized range); {@code
 * -Dsim.trace=true} prints every event of each run, so a failing seed can be replayed alone with
 * {@code -Dsim.seeds=1 -Dsim.firstSeed=<seed> -Dsim.trace=true}. {@code -Dsim.unsafe=<mode>} runs a
 * deliberately broken core ({@link UnsafeTestingMode}) to measure how often the checkers catch it.
 */
class SimulationTest {
  private static final int DEFAULT_SEED_COUNT = 500;

  @Test
  void seedRangeKeepsSafetyAndLiveness() {
    int seedCount = Integer.getInteger("sim.seeds", DEFAULT_SEED_COUNT);
    long firstSeed = Long.getLong("sim.firstSeed", 1L);
    // -Dsim.unsafe=<UnsafeTestingMode> runs a deliberately broken core, to measure detection.
    String unsafeMode = System.getProperty("sim.unsafe");
    long started = System.nanoTime();
    int failures = 0;
    Simulation.Result firstFailure = null;
    for (long seed = firstSeed; seed < firstSeed + seedCount; seed++) {
      Simulation.Options options = Simulation.Options.standard(seed);
      if (unsafeMode != null) {
        options = options.withUnsafe(UnsafeTestingMode.valueOf(unsafeMode));
      }
      Simulation.Result result = Simulation.run(seed, options);
      if (Boolean.getBoolean("sim.verbose")) {
        System.out.println("seed " + seed + ": " + result.stats());
      }
      if (result.failed()) {
        failures++;
        System.out.println("seed " + seed + " FAILED: " + result.failure().getMessage());
        if (firstFailure == null) {
          firstFailure = result;
          result.failure().printStackTrace(System.out);
        }
      }
    }
    long millis = (System.nanoTime() - started) / 1_000_000;
    System.out.println(
        "seeds="
            + seedCount
            + " failures="
            + failures
            + (firstFailure == null ? "" : " firstFailingSeed=" + firstFailure.seed())
            + " (first seed "
            + firstSeed
            + ", "
            + millis
            + " ms)");
    assertThat(failures)
        .as(
            "first failing seed %s; replay with -Dsim.seeds=1 -Dsim.firstSeed=%s -Dsim.trace=true",
            firstFailure == null ? "-" : firstFailure.seed(),
            firstFailure == null ? "-" : firstFailure.seed())
        .isZero();
  }

  @Test
  void sameSeedReplaysTheSameRun() {
    for (long seed = 7; seed < 10; seed++) {
      Simulation.Result first = Simulation.run(seed, Simulation.Options.standard(seed));
      Simulation.Result second = Simulation.run(seed, Simulation.Options.standard(seed));
      assertThat(second.traceDigest()).as("seed %d", seed).isEqualTo(first.traceDigest());
      assertThat(second.stats()).isEqualTo(first.stats());
    }
  }
}
