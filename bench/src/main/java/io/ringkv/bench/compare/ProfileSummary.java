package io.ringkv.bench.compare;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A short text summary of the CPU profiles {@code compare --profile} takes of the ringkv nodes: per
 * workload, the threads, the frames by self time and the ringkv frames by inclusive time that hold
 * the most samples, summed over the nodes.
 *
 * <p>Input: {@code <dir>/profile/<workload>-node-<i>.collapsed}, async-profiler's collapsed stacks
 * taken with its {@code threads} option, so each line is {@code [thread-name tid=N];frame;...;leaf
 * COUNT} with the root frame first. Thread names are folded by replacing a digit run after a
 * separator ({@code - # _ .} or space) with {@code N} (a pool of 16 workers is one line, not 16;
 * "C2 CompilerThread0" keeps its C2), which is what a reader of "where does the time go" needs.
 * Usage: {@code ProfileSummary <dir>}; writes {@code <dir>/profile-summary.txt}.
 */
public final class ProfileSummary {
  /** Lines per list in the summary. */
  static final int TOP_ENTRIES = 12;

  private static final Pattern FILE = Pattern.compile("(.+)-node-(\\d+)\\.collapsed");
  private static final Pattern THREAD = Pattern.compile("^\\[(.*?)(?: tid=\\d+)?]$");
  private static final String RINGKV_FRAME = "io/ringkv/";

  private ProfileSummary() {}

  /** Samples of one workload, summed over nodes. */
  static final class Profile {
    final Map<String, Long> samplesByNode = new TreeMap<>();
    final Map<String, Long> byThread = new HashMap<>();
    final Map<String, Long> bySelfFrame = new HashMap<>();
    final Map<String, Long> byRingkvFrame = new HashMap<>();
    long total;

    void add(String node, List<String> lines) {
      for (String line : lines) {
        int space = line.lastIndexOf(' ');
        if (space <= 0) {
          continue;
        }
        long count;
        try {
          count = Long.parseLong(line.substring(space + 1).trim());
        } catch (NumberFormatException e) {
          continue;
        }
        String[] frames = line.substring(0, space).split(";");
        total += count;
        samplesByNode.merge(node, count, Long::sum);
        Matcher thread = THREAD.matcher(frames[0]);
        String threadName = thread.matches() ? foldDigits(thread.group(1)) : "(no thread frame)";
        byThread.merge(threadName, count, Long::sum);
        bySelfFrame.merge(frames[frames.length - 1], count, Long::sum);
        // Inclusive time: a frame that occurs twice in one stack (recursion) counts once.
        Set<String> seen = new HashSet<>();
        for (String frame : frames) {
          if (frame.startsWith(RINGKV_FRAME) && seen.add(frame)) {
            byRingkvFrame.merge(frame, count, Long::sum);
          }
        }
      }
    }
  }

  private static final Pattern NUMBERING = Pattern.compile("(?<=[-#_. ])\\d+");

  static String foldDigits(String name) {
    return NUMBERING.matcher(name).replaceAll("N");
  }

  public static void main(String[] args) throws IOException {
    Path dir = Path.of(args[0]);
    Map<String, Profile> profiles = read(dir.resolve("profile"));
    Files.writeString(dir.resolve("profile-summary.txt"), render(profiles));
  }

  static Map<String, Profile> read(Path profileDir) throws IOException {
    Map<String, Profile> profiles = new TreeMap<>();
    if (!Files.isDirectory(profileDir)) {
      return profiles;
    }
    List<Path> files;
    try (Stream<Path> listing = Files.list(profileDir)) {
      files = listing.sorted().toList();
    }
    for (Path file : files) {
      Matcher m = FILE.matcher(file.getFileName().toString());
      if (m.matches()) {
        profiles
            .computeIfAbsent(m.group(1), w -> new Profile())
            .add("node-" + m.group(2), Files.readAllLines(file));
      }
    }
    return profiles;
  }

  static String render(Map<String, Profile> profiles) {
    StringBuilder out = new StringBuilder();
    out.append(
            "CPU profiles of the ringkv nodes during the measured runs (async-profiler, event=cpu,")
        .append(" interval=1ms: one sample is about 1 ms of CPU).\n")
        .append("Percentages are of all samples of the workload over the three nodes; thread names")
        .append(" have digit runs folded to N.\n")
        .append("Flame graphs: profile/<workload>-node-<i>.html.\n");
    if (profiles.isEmpty()) {
      out.append("\n(no profiles found)\n");
    }
    for (Map.Entry<String, Profile> entry : profiles.entrySet()) {
      Profile p = entry.getValue();
      out.append("\n== ").append(entry.getKey()).append(": ").append(p.total).append(" samples (");
      List<String> nodes = new ArrayList<>();
      p.samplesByNode.forEach((node, n) -> nodes.add(node + " " + n));
      out.append(String.join(", ", nodes)).append(")\n");
      section(out, "top threads", p.byThread, p.total);
      section(out, "top frames by self time", p.bySelfFrame, p.total);
      section(out, "top ringkv frames by total time", p.byRingkvFrame, p.total);
    }
    return out.toString();
  }

  private static void section(StringBuilder out, String title, Map<String, Long> counts, long all) {
    out.append(title).append(":\n");
    counts.entrySet().stream()
        .sorted(
            Map.Entry.<String, Long>comparingByValue(Comparator.reverseOrder())
                .thenComparing(Map.Entry.comparingByKey()))
        .limit(TOP_ENTRIES)
        .forEach(e ->
            out.append(
                String.format(
                    Locale.ROOT,
                    "  %5.1f %%  %s%n",
                    all == 0 ? 0.0 : 100.0 * e.getValue() / all,
                    e.getKey())));
  }
}
