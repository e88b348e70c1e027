package io.ringkv.gossip;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Runs the deterministic gossip simulation ({@link GossipSimulation}) over a seed range of 5- and
 * 50-member clusters at 0, 5 and 20 % loss with cut links, crashes and restarts, healing partitions
 * and starved members, plus 500-member runs, and fails if any seed breaks a check. It also proves
 * that a seed replays exactly and that the planted bugs (no refutation, no indirect probes) are
 * caught.
 *
 * <p>{@code -Dgossip.seeds=N -Dgossip.firstSeed=S} choose the range; {@code -Dgossip.big=N} the
 * number of 500-member runs; {@code -Dgossip.verbose=true} prints each run.
 */
class GossipSimulationTest {
  private static final int SEEDS_DEFAULT = 96;
  private static final int BIG_RUNS_DEFAULT = 1;

  @Test
  void seedRangeDetectsCrashesAndDeclaresNoHealthyMemberDead() {
    int seedCount = Integer.getInteger("gossip.seeds", SEEDS_DEFAULT);
    long firstSeed = Long.getLong("gossip.firstSeed", 1L);
    List<Long> seeds = new ArrayList<>();
    for (long seed = firstSeed; seed < firstSeed + seedCount; seed++) {
      seeds.add(seed);
    }
    assertThat(runAll("standard", seeds, GossipSimulation::standard)).isZero();
  }

  @Test
  void fiveHundredMembersDetectCrashesAndPartitionsHeal() {
    int runs = Integer.getInteger("gossip.big", BIG_RUNS_DEFAULT);
    List<Long> seeds = new ArrayList<>();
    for (long seed = 1; seed <= runs; seed++) {
      seeds.add(seed);
    }
    int failures =
        runAll(
            "500 members",
            seeds,
            seed -> {
              GossipSimulation.Options base = GossipSimulation.standard(seed);
              return new GossipSimulation.Options(
                  500,
                  seed % 2 == 1 ? 0.05 : 0.20,
                  0.0,
                  10,
                  true,
                  false,
                  0,
                  4_500,
                  base.settings(),
                  base.unsafeMode(),
                  true);
            });
    assertThat(failures).isZero();
  }

  @Test
  void sameSeedReplaysTheSameRun() {
    for (long seed = 13; seed < 16; seed++) {
      GossipSimulation.Options options = GossipSimulation.standard(seed);
      GossipSimulation.Result first = GossipSimulation.run(seed, options);
      GossipSimulation.Result second = GossipSimulation.run(seed, options);
      assertThat(second.traceDigest()).as("seed %s", seed).isEqualTo(first.traceDigest());
      assertThat(second.detectionTicks()).isEqualTo(first.detectionTicks());
    }
    assertThat(GossipSimulation.run(13, GossipSimulation.standard(13)).traceDigest())
        .isNotEqualTo(GossipSimulation.run(14, GossipSimulation.standard(13)).traceDigest());
  }

  @Test
  void plantedBugWithoutRefutationIsCaught() {
    List<Long> seeds = List.of(5L, 6L, 7L, 8L);
    int failures =
        runAll(
            "unsafe NO_REFUTATION",
            seeds,
            seed ->
                GossipSimulation.standard(seed)
                    .tuned(GossipSettings.lan(), GossipCore.UnsafeMode.NO_REFUTATION, 8_000, true));
    assertThat(failures).isEqualTo(seeds.size());
  }

  @Test
  void plantedBugWithoutIndirectProbesIsCaught() {
    // Seeds of the cut-links flavour at 0 % loss, where any suspicion of a healthy member fails.
    List<Long> seeds = List.of(1L, 2L, 3L, 48L, 49L, 50L);
    int failures =
        runAll(
            "unsafe NO_INDIRECT_PROBES",
            seeds,
            seed ->
                GossipSimulation.standard(seed)
                    .withUnsafe(GossipCore.UnsafeMode.NO_INDIRECT_PROBES));
    assertThat(failures).isEqualTo(seeds.size());
  }

  interface OptionsForSeed {
    GossipSimulation.Options options(long seed);
  }

  private static int runAll(String name, List<Long> seeds, OptionsForSeed optionsForSeed) {
    long started = System.nanoTime();
    int failures = 0;
    Long firstFailing = null;
    for (long seed : seeds) {
      GossipSimulation.Options options = optionsForSeed.options(seed);
      GossipSimulation.Result result = GossipSimulation.run(seed, options);
      if (Boolean.getBoolean("gossip.verbose") || result.failed()) {
        System.out.println(
            "["
                + name
                + "] seed "
                + seed
                + " "
                + options.describe()
                + ": "
                + (result.failed() ? "FAILED " + result.failure() : "ok")
                + " detections="
                + result.detectionTicks().size()
                + " falsePositives="
                + result.healthyFalsePositives()
                + "/"
                + result.starvedFalsePositives()
                + " digest="
                + Long.toHexString(result.traceDigest()));
      }
      if (result.failed()) {
        failures++;
        if (firstFailing == null) {
          firstFailing = seed;
        }
      }
    }
    System.out.println(
        "["
            + name
            + "] seeds="
            + seeds.size()
            + " failures="
            + failures
            + (firstFailing == null ? "" : " firstFailingSeed=" + firstFailing)
            + " ("
            + (System.nanoTime() - started) / 1_000_000
            + " ms)");
    return failures;
  }
}
