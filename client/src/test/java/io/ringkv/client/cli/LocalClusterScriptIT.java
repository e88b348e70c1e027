package io.ringkv.client.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Proves the operator's path end to end against real node processes: {@code deploy/local-cluster.sh
 * start 3} brings up three nodes on 127.0.0.11-13 and returns once they answer; {@code bin/ringctl
 * cluster status} and {@code --output json cluster partitions} report them; {@code ringctl}
 * put/get/cas/scan/del work against the real KV service with exit codes 0 (done), 1 (no such key,
 * compare false) and 2 (not served); {@code stop} leaves no recorded process alive. Also: an
 * endpoint with no node gives "no node reachable".
 *
 * <p>ringctl runs from this test's classpath (RINGCTL_CLASSPATH) so the script does not rebuild the
 * module under test; the server jar is built by the script when missing.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class LocalClusterScriptIT {
  static final Path ROOT = Path.of(System.getProperty("ringkv.repo.root", "..")).toAbsolutePath();

  /**
   * The test's cluster lives beside a developer's (run/, 127.0.0.11-13): its own run directory and
   * nodes on 127.0.0.21-23.
   */
  static final Path RUN_DIR = ROOT.resolve("client/target/it-run");

  static final String ADDRESS_BASE = "20";
  static final String ENDPOINTS = "127.0.0.21:7379,127.0.0.22:7379,127.0.0.23:7379";

  /**
   * ringctl's deadline here: generous, since a scan visits all 64 partitions (a ReadIndex each) and
   * the machine (2 cores) may be busy with other builds; the commands themselves are quick.
   */
  static final String TIMEOUT_MILLIS = "20000";

  record Result(int exitCode, String stdout, String stderr) {}

  static Result run(Duration timeout, String... command) throws IOException, InterruptedException {
    ProcessBuilder builder = new ProcessBuilder(command).directory(ROOT.toFile());
    builder.environment().put("RINGCTL_CLASSPATH", System.getProperty("java.class.path"));
    builder.environment().put("RINGKV_RUN_DIR", RUN_DIR.toString());
    builder.environment().put("RINGKV_ADDRESS_BASE", ADDRESS_BASE);
    // Never an AOT training run nor a cache a developer trained: the same nodes on every machine.
    builder.environment().put("RINGKV_AOT", "off");
    Path out = Files.createTempFile("ringkv-it", ".out");
    Path err = Files.createTempFile("ringkv-it", ".err");
    try {
      Process process = builder.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
      if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        process.destroyForcibly();
        throw new AssertionError(String.join(" ", command) + " did not finish in " + timeout);
      }
      return new Result(
          process.exitValue(),
          Files.readString(out, StandardCharsets.UTF_8),
          Files.readString(err, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }

  static List<Long> recordedPids() throws IOException {
    List<Long> pids = new ArrayList<>();
    Path run = RUN_DIR;
    if (!Files.isDirectory(run)) {
      return pids;
    }
    try (Stream<Path> nodes = Files.list(run)) {
      for (Path node : nodes.toList()) {
        Path pid = node.resolve("pid");
        if (Files.exists(pid)) {
          pids.add(Long.parseLong(Files.readString(pid).trim()));
        }
      }
    }
    return pids;
  }

  @Test
  void startInspectAndStopAThreeNodeCluster() throws Exception {
    String script = ROOT.resolve("deploy/local-cluster.sh").toString();
    String ringctl = ROOT.resolve("bin/ringctl").toString();
    List<Long> pids = new ArrayList<>();
    deleteRecursively(RUN_DIR); // a fresh cluster each run
    try {
      Result start = run(Duration.ofSeconds(180), script, "start", "3");
      assertThat(start.exitCode()).as(start.stderr()).isZero();
      assertThat(start.stdout()).contains("3 nodes up");
      pids.addAll(recordedPids());
      assertThat(pids).hasSize(3);

      Result status =
          run(
              Duration.ofSeconds(30),
              ringctl,
              "--endpoints",
              ENDPOINTS,
              "--timeout-ms",
              TIMEOUT_MILLIS,
              "cluster",
              "status");
      assertThat(status.exitCode()).as(status.stderr()).isZero();
      assertThat(status.stdout())
          .contains("cluster ringkv-local")
          .contains("partitions 64")
          .contains("127.0.0.21:7379")
          .contains("127.0.0.22:7379")
          .contains("127.0.0.23:7379");
      assertThat(status.stdout().lines().filter(line -> line.contains(":7379")))
          .hasSize(3)
          .allMatch(line -> line.contains(" yes "));

      Result partitions =
          run(
              Duration.ofSeconds(30),
              ringctl,
              "--endpoints",
              ENDPOINTS,
              "--timeout-ms",
              TIMEOUT_MILLIS,
              "--output",
              "json",
              "cluster",
              "partitions");
      assertThat(partitions.exitCode()).as(partitions.stderr()).isZero();
      assertThat(partitions.stdout())
          .startsWith("{\"map_epoch\":")
          .contains("\"partition_count\":64")
          .contains("\"id\":63")
          .contains("\"hash_end\":\"18446744073709551615\"");

      assertThat(status.stdout()).contains("kv service serving");
      keyCommandsGiveExitCodes(ringctl);

      faultCommandsActOnOneNode(script);
      pids.addAll(recordedPids()); // node 3 runs under a new pid after its restart
    } finally {
      Result stop = run(Duration.ofSeconds(60), script, "stop");
      assertThat(stop.exitCode()).as(stop.stderr()).isZero();
    }
    assertThat(recordedPids()).isEmpty();
    for (long pid : pids) {
      assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false))
          .as("node pid %d after stop", pid)
          .isFalse();
    }
  }

  /** ringctl's key commands against the real KV service: 0 done, 1 no such key / compare false. */
  private static void keyCommandsGiveExitCodes(String ringctl) throws Exception {
    Result missing = ringctl(ringctl, "get", "k");
    assertThat(missing.exitCode()).as(missing.stderr()).isEqualTo(1);
    assertThat(missing.stderr()).contains("key 'k' not found");

    assertThat(ringctl(ringctl, "put", "k", "v1").exitCode()).isZero();
    Result get = ringctl(ringctl, "get", "k");
    assertThat(get.exitCode()).as(get.stderr()).isZero();
    assertThat(get.stdout().strip()).isEqualTo("v1");

    Result casWrong = ringctl(ringctl, "cas", "k", "nope", "v2");
    assertThat(casWrong.exitCode()).as(casWrong.stderr()).isEqualTo(1);
    Result casRight = ringctl(ringctl, "cas", "k", "v1", "v2");
    assertThat(casRight.exitCode()).as(casRight.stderr()).isZero();
    assertThat(ringctl(ringctl, "get", "k").stdout().strip()).isEqualTo("v2");

    for (String key : List.of("tour/c", "tour/a", "tour/b")) {
      assertThat(ringctl(ringctl, "put", key, "x").exitCode()).isZero();
    }
    Result scan = ringctl(ringctl, "scan", "--prefix", "tour/");
    assertThat(scan.exitCode()).as(scan.stderr()).isZero();
    assertThat(scan.stdout().lines().map(String::strip).filter(l -> l.startsWith("tour/")))
        .containsExactly("tour/a\tx", "tour/b\tx", "tour/c\tx");

    Result del = ringctl(ringctl, "del", "k");
    assertThat(del.exitCode()).as(del.stderr()).isZero();
    Result delAgain = ringctl(ringctl, "del", "k");
    assertThat(delAgain.exitCode()).as(delAgain.stderr()).isEqualTo(1);
    assertThat(ringctl(ringctl, "get", "k").exitCode()).isEqualTo(1);

    // 2: the request could not be served (here: nothing listens at the endpoint).
    Result unreachable =
        run(
            Duration.ofSeconds(30),
            ringctl,
            "--endpoints",
            "127.0.0.99:7379",
            "--timeout-ms",
            "1500",
            "put",
            "k",
            "v");
    assertThat(unreachable.exitCode()).isEqualTo(2);
  }

  private static Result ringctl(String ringctl, String... args) throws Exception {
    List<String> command =
        new ArrayList<>(List.of(ringctl, "--endpoints", ENDPOINTS, "--timeout-ms", TIMEOUT_MILLIS));
    command.addAll(List.of(args));
    return run(Duration.ofSeconds(30), command.toArray(String[]::new));
  }

  /** pause/resume/kill/restart change exactly the named node, as {@code status} shows. */
  private static void faultCommandsActOnOneNode(String script) throws Exception {
    assertThat(run(Duration.ofSeconds(10), script, "pause", "2").exitCode()).isZero();
    assertThat(nodeLine(run(Duration.ofSeconds(30), script, "status"), 2)).contains("paused");
    assertThat(run(Duration.ofSeconds(10), script, "resume", "2").exitCode()).isZero();
    assertThat(nodeLine(run(Duration.ofSeconds(30), script, "status"), 2)).contains("running");

    long killed = Long.parseLong(Files.readString(RUN_DIR.resolve("node-3/pid")).trim());
    assertThat(run(Duration.ofSeconds(10), script, "kill", "3").exitCode()).isZero();
    ProcessHandle.of(killed).ifPresent(p -> p.onExit().orTimeout(10, TimeUnit.SECONDS).join());
    Result afterKill = run(Duration.ofSeconds(30), script, "status");
    assertThat(nodeLine(afterKill, 3)).contains("down");
    assertThat(nodeLine(afterKill, 1)).contains("running").endsWith("200");

    Result restart = run(Duration.ofSeconds(120), script, "restart", "3");
    assertThat(restart.exitCode()).as(restart.stderr()).isZero();
    assertThat(nodeLine(run(Duration.ofSeconds(30), script, "status"), 3))
        .contains("running")
        .endsWith("200");
    Result bad = run(Duration.ofSeconds(10), script, "kill", "9");
    assertThat(bad.exitCode()).isEqualTo(2);
    assertThat(bad.stderr()).contains("no node 9");
  }

  private static String nodeLine(Result status, int node) {
    return status
        .stdout()
        .lines()
        .filter(line -> line.startsWith(node + " "))
        .findFirst()
        .orElseThrow(
            () -> new AssertionError("no line for node " + node + " in\n" + status.stdout()))
        .strip();
  }

  @Test
  void anEndpointWithNoNodeSaysSo() throws Exception {
    Result result =
        run(
            Duration.ofSeconds(30),
            ROOT.resolve("bin/ringctl").toString(),
            "--endpoints",
            "127.0.0.99:7379",
            "--timeout-ms",
            "1500",
            "cluster",
            "status");
    assertThat(result.exitCode()).isEqualTo(2);
    assertThat(result.stderr()).contains("no node reachable at 127.0.0.99:7379");
  }

  static void deleteRecursively(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path path : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(path);
      }
    }
  }
}
