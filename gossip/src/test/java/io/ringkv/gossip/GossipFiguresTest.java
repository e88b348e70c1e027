package io.ringkv.gossip;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * Produces the Gossip figures of {@code docs/benchmarks.md} from the simulation: detection time of
 * crashed members, and false positives per member-hour at 5 % loss and with 10 % of members
 * starved, for our {@code lan} preset (memberlist's LAN defaults, Lifeguard on) beside plain SWIM
 * (the same settings with the three Lifeguard extensions off). It asserts nothing: it measures. Run
 * with {@code -Dgossip.figures=true}; {@code -Dgossip.figureTicks=N} sets the length of the
 * false-positive runs (default 36,000 ticks, 30 simulated minutes).
 */
@EnabledIfSystemProperty(named = "gossip.figures", matches = "true")
class GossipFiguresTest {
  private static final int MEMBERS = 50;
  private static final int DETECTION_SEEDS = 6;
  private static final long FIGURE_TICKS_DEFAULT = 36_000;

  @Test
  void printFigures() throws IOException {
    long figureTicks = Long.getLong("gossip.figureTicks", FIGURE_TICKS_DEFAULT);
    GossipSettings lan = GossipSettings.lan();
    StringBuilder table = new StringBuilder();
    table.append(
        "| variant | detection median (s) | detection p99 (s) | FP/member-hour, 5 % loss |"
            + " FP/member-hour, 10 % starved (healthy / starved members) |"
            + " suspicions of healthy/member-hour, 10 % starved |\n");
    table.append("|---|---|---|---|---|---|\n");
    for (GossipSettings settings : List.of(lan, lan.plainSwim())) {
      String name = settings.suspicionShrink() ? "ringkv lan (Lifeguard)" : "plain SWIM";
      List<Long> detections = new ArrayList<>();
      for (long seed = 1; seed <= DETECTION_SEEDS; seed++) {
        detections.addAll(run(seed, settings, 0.05, 0.0, 5, 4_000).detectionTicks());
      }
      Collections.sort(detections);
      GossipSimulation.Result lossy = run(101, settings, 0.05, 0.0, 0, figureTicks);
      GossipSimulation.Result starved = run(202, settings, 0.0, 0.10, 0, figureTicks);
      table.append(
          String.format(
              Locale.ROOT,
              "| %s | %.1f | %.1f | %.3f | %.3f / %.3f | %.2f |%n",
              name,
              seconds(settings, percentile(detections, 0.50)),
              seconds(settings, percentile(detections, 0.99)),
              lossy.healthyFalsePositives() / lossy.memberHours(),
              starved.healthyFalsePositives() / starved.memberHours(),
              starved.starvedFalsePositives() / starved.memberHours(),
              starved.suspicionsOfHealthy() / starved.memberHours()));
      System.out.printf(
          Locale.ROOT,
          "%s: %d detections; lossy %.1f member-hours %d FP; starved %.1f member-hours %d/%d FP%n",
          name,
          detections.size(),
          lossy.memberHours(),
          lossy.healthyFalsePositives(),
          starved.memberHours(),
          starved.healthyFalsePositives(),
          starved.starvedFalsePositives());
    }
    System.out.println(table);
    Path out = Path.of("target", "gossip-figures.md");
    Files.createDirectories(out.getParent());
    Files.writeString(out, table.toString());
  }

  private static GossipSimulation.Result run(
      long seed, GossipSettings settings, double loss, double starved, int crashes, long ticks) {
    return GossipSimulation.run(
        seed,
        new GossipSimulation.Options(
            MEMBERS,
            loss,
            starved,
            crashes,
            false,
            false,
            0,
            ticks,
            settings,
            GossipCore.UnsafeMode.NONE,
            false));
  }

  private static long percentile(List<Long> sorted, double fraction) {
    if (sorted.isEmpty()) {
      return -1;
    }
    return sorted.get(Math.min(sorted.size() - 1, (int) Math.floor(fraction * sorted.size())));
  }

  private static double seconds(GossipSettings settings, long ticks) {
    return ticks * settings.tickMillis() / 1_000.0;
  }
}
