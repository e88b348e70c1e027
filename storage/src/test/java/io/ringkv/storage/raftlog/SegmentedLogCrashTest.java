package io.ringkv.storage.raftlog;

import static org.assertj.core.api.Assertions.assertThat;

import io.ringkv.raft.Entry;
import io.ringkv.storage.CrashAcks;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves that the segmented Raft log acknowledges only durable writes, against a real kill -9.
 *
 * <p>For each seed, a child JVM ({@link SegmentedLogCrashWriter}) appends entries and hard states
 * from several threads to several groups through group commit and prints every acknowledged write;
 * the parent kills it with SIGKILL once a number of acknowledgements drawn from the seed have
 * arrived, and reopens the log: every acknowledged entry must be there with its content (or
 * compacted away), the hard state must cover it, and each group's log must be contiguous from first
 * to last index. Each trial then reopens once more after a second child appended to the recovered
 * log, so a recovered tail is also proven writable. Each seed is printed; {@code
 * -Draftlog.crash.seeds=N} runs N seeds (10 by default, to keep the build short; the brief asks for
 * 50 by hand), {@code -Draftlog.crash.seed=S} replays seed S's kill point.
 */
class SegmentedLogCrashTest {
  private static final int THREADS = 4;
  private static final int GROUPS_PER_THREAD = 3;
  private static final int CHILD_WRITES_MAX = 2_000_000;
  private static final long CHILD_RUN_MILLIS_MAX = 120_000;
  private static final long ACK_WAIT_MILLIS_MAX = 60_000;
  private static final int KILL_AFTER_ACKS_MIN = 200;
  private static final int KILL_AFTER_ACKS_SPREAD = 8_000;

  @TempDir Path directory;

  @Test
  void acknowledgedEntriesSurviveKillNine() throws Exception {
    int seeds = Integer.getInteger("raftlog.crash.seeds", 10);
    String only = System.getProperty("raftlog.crash.seed");
    for (int i = 0; i < (only == null ? seeds : 1); i++) {
      long seed = only != null ? Long.parseLong(only) : 9_000 + i;
      System.out.println("SegmentedLogCrashTest seed " + seed);
      Path store = directory.resolve("seed-" + seed);
      Map<Long, Long> maxAcked = new ConcurrentHashMap<>();
      Random random = new Random(seed);
      killChildAfter(seed, store, random, maxAcked);
      verify(store, maxAcked);
      killChildAfter(seed, store, random, maxAcked);
      verify(store, maxAcked);
    }
  }

  private void killChildAfter(long seed, Path store, Random random, Map<Long, Long> maxAcked)
      throws Exception {
    int killAfterAcks = KILL_AFTER_ACKS_MIN + random.nextInt(KILL_AFTER_ACKS_SPREAD);
    AtomicInteger acks = new AtomicInteger();
    Process child = startChild(seed, store);
    Thread reader =
        new Thread(() -> CrashAcks.read(child, maxAcked, acks), "crash-ack-reader-" + seed);
    reader.start();
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ACK_WAIT_MILLIS_MAX);
    while (acks.get() < killAfterAcks && child.isAlive() && System.nanoTime() < deadline) {
      child.waitFor(1, TimeUnit.MILLISECONDS); // a bounded poll of a condition, not a guess
    }
    boolean killedAlive = child.isAlive();
    child.destroyForcibly();
    assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
    reader.join(TimeUnit.SECONDS.toMillis(30));
    System.out.printf(
        "  seed %d: kill after %d acks (target %d, child alive at kill: %s), %d groups%n",
        seed, acks.get(), killAfterAcks, killedAlive, maxAcked.size());
    assertThat(acks.get())
        .as("child produced acknowledgements; stderr in %s", errorFile(store, seed))
        .isGreaterThanOrEqualTo(1);
  }

  private static Path errorFile(Path store, long seed) {
    return store.resolveSibling("child-" + seed + ".err");
  }

  private Process startChild(long seed, Path store) throws IOException {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    List<String> command = new ArrayList<>();
    command.add(java.toString());
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(SegmentedLogCrashWriter.class.getName());
    command.add(store.toString());
    command.add(Long.toString(seed));
    command.add(Integer.toString(THREADS));
    command.add(Integer.toString(GROUPS_PER_THREAD));
    command.add(Integer.toString(CHILD_WRITES_MAX));
    command.add(Long.toString(CHILD_RUN_MILLIS_MAX));
    Files.createDirectories(store.getParent());
    return new ProcessBuilder(command)
        .redirectError(ProcessBuilder.Redirect.appendTo(errorFile(store, seed).toFile()))
        .start();
  }

  private static void verify(Path store, Map<Long, Long> maxAcked) {
    try (SegmentedLog log = SegmentedLog.open(SegmentedLogCrashWriter.options(store))) {
      for (Map.Entry<Long, Long> acked : maxAcked.entrySet()) {
        long group = acked.getKey();
        assertThat(log.lastIndex(group))
            .as("group %d keeps every acknowledged index", group)
            .isGreaterThanOrEqualTo(acked.getValue());
        assertThat(log.hardState(group).commit())
            .as("group %d hard state", group)
            .isGreaterThanOrEqualTo(acked.getValue());
        long first = log.firstIndex(group);
        List<Entry> entries = log.entries(group, first, log.lastIndex(group) + 1, Long.MAX_VALUE);
        assertThat(entries).hasSize((int) (log.lastIndex(group) - first + 1));
        long expected = first;
        for (Entry entry : entries) {
          assertThat(entry.index()).as("group %d contiguous", group).isEqualTo(expected++);
          assertThat(entry.data()).isEqualTo(RaftLogFixtures.payload(group, entry.index(), 1));
        }
        if (first > 1) {
          assertThat(log.term(group, first - 1))
              .as("group %d term below first", group)
              .isEqualTo(1);
        }
      }
    }
  }
}
