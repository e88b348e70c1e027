package io.ringkv.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.ringkv.client.Entry;
import io.ringkv.client.RingKvClient;
import io.ringkv.client.ScanQuery;
import io.ringkv.client.cli.RingCtl;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.IntFunction;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves {@code ringctl backup} and {@code ringctl restore} on real in-process nodes: while a
 * writer keeps putting unique keys into a 3-node, 8-partition cluster, a rate-limited backup runs;
 * the backup restores into a fresh 2-node, 4-partition cluster, where every write acknowledged
 * before the backup began is present with its value, and every key present holds a value that was
 * really written to it (values are unique per write). Before that, damaged, truncated and
 * manifest-less copies of the backup are refused with the file named, and the target stays empty;
 * afterwards a second restore into the now non-empty cluster is refused. Nodes on 127.0.14.1-5.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class BackupRestoreTest {
  static final String[] SOURCE_HOSTS = {"127.0.14.1", "127.0.14.2", "127.0.14.3"};
  static final String[] TARGET_HOSTS = {"127.0.14.4", "127.0.14.5"};

  /** Bounds of the write load. */
  static final int WRITES_MAX = 200_000;

  static final int WRITES_IN_FLIGHT_MAX = 16;
  static final int WRITES_BEFORE_BACKUP_MIN = 2_000;
  static final long LOAD_SECONDS_MAX = 120;

  /** Backup pace: slow enough that the load overlaps it by seconds. */
  static final long BACKUP_BYTES_PER_SECOND_MAX = 100_000;

  @TempDir Path temp;

  record CliResult(int exitCode, String out, String err) {}

  static CliResult ringctl(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = RingCtl.run(new PrintWriter(out), new PrintWriter(err), args);
    System.out.println("ringctl " + String.join(" ", args) + " -> " + code + "\n" + out + err);
    return new CliResult(code, out.toString(), err.toString());
  }

  static String endpoints(RealTestCluster cluster) {
    return Stream.of(cluster.nodes)
        .map(node -> node.clientAddress().getHostString() + ":" + node.clientAddress().getPort())
        .collect(Collectors.joining(","));
  }

  static RingKvClient client(String endpoints) {
    return RingKvClient.builder()
        .endpoints(List.of(endpoints.split(",")))
        .deadline(Duration.ofSeconds(10))
        .build();
  }

  static String value(long seed, int write) {
    return "v" + write + "-" + seed;
  }

  @Test
  void backupUnderLoadRestoresIntoAnotherLayoutAndDamagedCopiesAreRefused() throws Exception {
    long seed = System.nanoTime();
    System.out.println("BackupRestoreTest seed " + seed);
    Path backup = temp.resolve("backup");
    Set<Integer> ackedBeforeBackup;
    Set<Integer> attempted = ConcurrentHashMap.newKeySet();
    int backupKeyCount;
    try (RealTestCluster source = new RealTestCluster(temp.resolve("source"), SOURCE_HOSTS, 8);
        RingKvClient client = client(endpoints(source))) {
      Set<Integer> acked = ConcurrentHashMap.newKeySet();
      AtomicBoolean stop = new AtomicBoolean();
      Thread writer =
          Thread.ofPlatform()
              .name("backup-test-writer")
              .start(() -> writeLoad(client, id -> value(seed, id), stop, attempted, acked));
      LocalTestCluster.awaitTrue(
          "writes before the backup",
          LOAD_SECONDS_MAX,
          () -> acked.size() >= WRITES_BEFORE_BACKUP_MIN);
      ackedBeforeBackup = Set.copyOf(acked);
      long started = System.nanoTime();
      CliResult result =
          ringctl(
              "--endpoints",
              endpoints(source),
              "--output",
              "json",
              "backup",
              "--to",
              backup.toString(),
              "--bytes-per-second-max",
              Long.toString(BACKUP_BYTES_PER_SECOND_MAX));
      long elapsedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
      int ackedDuringBackup = acked.size() - ackedBeforeBackup.size();
      stop.set(true);
      writer.join(TimeUnit.SECONDS.toMillis(LOAD_SECONDS_MAX));
      assertThat(writer.isAlive()).as("writer stopped").isFalse();
      assertThat(result.exitCode()).as(result.err()).isZero();
      long bytes = Long.parseLong(jsonField(result.out(), "bytes"));
      backupKeyCount = Integer.parseInt(jsonField(result.out(), "keys"));
      System.out.printf(
          "backup: %d keys, %d bytes in %d ms (pace %d B/s); %d writes acknowledged during it%n",
          backupKeyCount, bytes, elapsedMillis, BACKUP_BYTES_PER_SECOND_MAX, ackedDuringBackup);
      assertThat(ackedDuringBackup).as("the load ran during the backup").isPositive();
      assertThat(elapsedMillis)
          .as("the pace held: %d bytes at %d B/s", bytes, BACKUP_BYTES_PER_SECOND_MAX)
          .isGreaterThanOrEqualTo(bytes * 1000 / BACKUP_BYTES_PER_SECOND_MAX * 8 / 10);
    }

    try (RealTestCluster target = new RealTestCluster(temp.resolve("target"), TARGET_HOSTS, 4);
        RingKvClient client = client(endpoints(target))) {
      String endpoints = endpoints(target);
      refusedNamingFile(
          endpoints, damagedCopy(backup, "partition-00003.kvs"), "partition-00003.kvs");
      refusedNamingFile(
          endpoints, truncatedCopy(backup, "partition-00005.kvs"), "partition-00005.kvs");
      refusedNamingFile(endpoints, copyWithout(backup, "MANIFEST"), "MANIFEST");
      refusedNamingFile(
          endpoints, copyWithout(backup, "partition-00006.kvs"), "partition-00006.kvs");
      assertThat(allPairs(client)).as("nothing written by refused restores").isEmpty();

      CliResult restore = ringctl("--endpoints", endpoints, "restore", "--from", backup.toString());
      assertThat(restore.exitCode()).as(restore.err()).isZero();

      Map<String, String> restored = allPairs(client);
      assertThat(restored).hasSize(backupKeyCount);
      assertRestored(restored, ackedBeforeBackup, attempted, write -> value(seed, write));

      CliResult again = ringctl("--endpoints", endpoints, "restore", "--from", backup.toString());
      assertThat(again.exitCode()).isEqualTo(2);
      assertThat(again.err()).contains("not empty");
    }
  }

  /**
   * Proves a restore: every write acknowledged before the backup began is in {@code restored} with
   * its value, and every restored key was written, with the value of that write.
   */
  static void assertRestored(
      Map<String, String> restored,
      Set<Integer> ackedBeforeBackup,
      Set<Integer> attempted,
      IntFunction<String> valueOf) {
    for (int write : ackedBeforeBackup) {
      assertThat(restored.get("w/" + write))
          .as("write %d, acknowledged before the backup began", write)
          .isEqualTo(valueOf.apply(write));
    }
    for (Map.Entry<String, String> pair : restored.entrySet()) {
      int write = Integer.parseInt(pair.getKey().substring(2));
      assertThat(attempted).as("key %s was written", pair.getKey()).contains(write);
      assertThat(pair.getValue()).as("value of %s", pair.getKey()).isEqualTo(valueOf.apply(write));
    }
  }

  /** Unique keys w/N with unique values, a bounded window of writes in flight. */
  static void writeLoad(
      RingKvClient client,
      IntFunction<String> valueOf,
      AtomicBoolean stop,
      Set<Integer> attempted,
      Set<Integer> acked) {
    Semaphore window = new Semaphore(WRITES_IN_FLIGHT_MAX);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(LOAD_SECONDS_MAX);
    for (int write = 0;
        write < WRITES_MAX && !stop.get() && System.nanoTime() < deadline;
        write++) {
      try {
        window.acquire();
      } catch (InterruptedException e) {
        return;
      }
      int id = write;
      attempted.add(id);
      client
          .put("w/" + id, valueOf.apply(id))
          .whenComplete((result, error) -> {
            if (error == null) {
              acked.add(id);
            }
            window.release();
          });
    }
    window.acquireUninterruptibly(WRITES_IN_FLIGHT_MAX);
  }

  private void refusedNamingFile(String endpoints, Path copy, String fileName) {
    CliResult result = ringctl("--endpoints", endpoints, "restore", "--from", copy.toString());
    assertThat(result.exitCode()).isEqualTo(2);
    assertThat(result.err()).contains(copy.resolve(fileName).toString());
  }

  private Path copy(Path backup, String name) throws Exception {
    Path copy = temp.resolve(name);
    Files.createDirectories(copy);
    try (Stream<Path> files = Files.list(backup)) {
      for (Path file : files.toList()) {
        Files.copy(file, copy.resolve(file.getFileName()));
      }
    }
    return copy;
  }

  /**
   * A copy with one bit of {@code fileName}'s last byte flipped (same size): that byte is the
   * version of the last pair, a one-byte varint, so the file still parses and only the checksum can
   * tell.
   */
  private Path damagedCopy(Path backup, String fileName) throws Exception {
    Path copy = copy(backup, "damaged");
    Path file = copy.resolve(fileName);
    byte[] bytes = Files.readAllBytes(file);
    assertThat(bytes).as("%s has data to damage", fileName).isNotEmpty();
    assertThat(bytes[bytes.length - 1] & 0x80).as("last byte ends a varint").isZero();
    bytes[bytes.length - 1] ^= 0x02;
    Files.write(file, bytes);
    return copy;
  }

  private Path truncatedCopy(Path backup, String fileName) throws Exception {
    Path copy = copy(backup, "truncated");
    Path file = copy.resolve(fileName);
    try (var channel = java.nio.channels.FileChannel.open(file, StandardOpenOption.WRITE)) {
      channel.truncate(channel.size() - 7);
    }
    return copy;
  }

  private Path copyWithout(Path backup, String fileName) throws Exception {
    Path copy = copy(backup, "without-" + fileName);
    Files.delete(copy.resolve(fileName));
    return copy;
  }

  static Map<String, String> allPairs(RingKvClient client) {
    Map<String, String> pairs = new HashMap<>();
    try (Stream<Entry> entries =
        client.blocking().scan(ScanQuery.prefix(new byte[0]).withPageSize(500))) {
      entries.forEach(entry -> pairs.put(entry.keyUtf8(), entry.valueUtf8()));
    }
    return pairs;
  }

  /** The numeric value of {@code "name":N} in ringctl's one-line JSON. */
  private static String jsonField(String json, String name) {
    String marker = "\"" + name + "\":";
    int start = json.indexOf(marker);
    assertThat(start).as("%s in %s", name, json).isNotNegative();
    int from = start + marker.length();
    int end = from;
    while (end < json.length() && Character.isDigit(json.charAt(end))) {
      end++;
    }
    return json.substring(from, end).trim();
  }
}
