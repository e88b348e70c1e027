package io.ringkv.storage;

import static org.assertj.core.api.Assertions.assertThat;

import io.ringkv.raft.Entry;
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
 * Proves that group commit acknowledges only durable writes, against a real kill -9.
 *
 * <p>For each seed, a child JVM ({@link CrashWriter}) appends from several threads to several
 * groups and prints every acknowledged write; the parent kills it with SIGKILL once a number of
 * acknowledgements drawn from the seed have arrived, reopens the store and checks that every
 * acknowledged entry is present with its content (or compacted away), that the hard state covers
 * it, and that each group's log is contiguous from first to last index. Each seed is printed;
 * {@code -Dstorage.crash.seeds=N} runs N seeds, {@code -Dstorage.crash.seed=S} replays seed S (the
 * kill point is reproducible; the interleaving of the child's threads is not).
 */
class CrashSafetyTest {
  private static final int THREADS = 4;
  private static final int GROUPS_PER_THREAD = 3;
  private static final int CHILD_WRITES_MAX = 2_000_000;
  private static final long CHILD_RUN_MILLIS_MAX = 120_000;
  private static final long ACK_WAIT_MILLIS_MAX = 60_000;

  @TempDir Path directory;

  @Test
  void acknowledgedWritesSurviveKillNine() throws Exception {
    int seeds = Integer.getInteger("storage.crash.seeds", 5);
    String only = System.getProperty("storage.crash.seed");
    for (int i = 0; i < seeds; i++) {
      long seed = only != null ? Long.parseLong(only) : 7_000 + i;
      System.out.println("CrashSafetyTest seed " + seed);
      runSeed(seed, directory.resolve("seed-" + seed));
      if (only != null) {
        break;
      }
    }
  }

  private void runSeed(long seed, Path store) throws Exception {
    int killAfterAcks = 200 + new Random(seed).nextInt(6_000);
    Map<Long, Long> maxAcked = new ConcurrentHashMap<>();
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
        .as(
            "child produced acknowledgements; stderr in %s",
            store.resolveSibling("child-" + seed + ".err"))
        .isGreaterThanOrEqualTo(Math.min(killAfterAcks, 1));
    verify(store, maxAcked);
  }

  private Process startChild(long seed, Path store) throws IOException {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    List<String> command = new ArrayList<>();
    command.add(java.toString());
    command.add("--enable-native-access=ALL-UNNAMED");
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(CrashWriter.class.getName());
    command.add(store.toString());
    command.add(Long.toString(seed));
    command.add(Integer.toString(THREADS));
    command.add(Integer.toString(GROUPS_PER_THREAD));
    command.add(Integer.toString(CHILD_WRITES_MAX));
    command.add(Long.toString(CHILD_RUN_MILLIS_MAX));
    Files.createDirectories(store.getParent());
    return new ProcessBuilder(command)
        .redirectError(store.resolveSibling("child-" + seed + ".err").toFile())
        .start();
  }

  private static void verify(Path store, Map<Long, Long> maxAcked) {
    try (StorageEngine engine = TestStores.open(store)) {
      for (Map.Entry<Long, Long> acked : maxAcked.entrySet()) {
        long group = acked.getKey();
        RaftLogStore log = engine.raftLog(group);
        assertThat(log.lastIndex())
            .as("group %d keeps every acknowledged index", group)
            .isGreaterThanOrEqualTo(acked.getValue());
        assertThat(log.initialState().hardState().commit())
            .as("group %d hard state", group)
            .isGreaterThanOrEqualTo(acked.getValue());
        List<Entry> entries = log.entries(log.firstIndex(), log.lastIndex() + 1, Long.MAX_VALUE);
        assertThat(entries).hasSize((int) (log.lastIndex() - log.firstIndex() + 1));
        long expected = log.firstIndex();
        for (Entry entry : entries) {
          assertThat(entry.index()).as("group %d contiguous", group).isEqualTo(expected++);
          assertThat(entry.data()).isEqualTo(CrashWriter.payload(group, entry.index()));
        }
      }
    }
  }
}
