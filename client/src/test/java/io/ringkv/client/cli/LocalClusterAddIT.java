package io.ringkv.client.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Proves {@code deploy/local-cluster.sh add} against real node processes: with one node running,
 * {@code add} starts node 2 on the next address of the script's range, in join mode (--join the
 * initial member), records it so {@code status} lists it and {@code stop} stops it, and then asks
 * {@code ringctl cluster join} for it. Where the nodes serve AddNode, the join succeeds and the
 * members list shows node 2 active; where they do not (the branch before the meta group's
 * coordinator is merged), {@code add} exits 2 saying so and leaves the node running. Nodes on
 * 127.0.4.41-42.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class LocalClusterAddIT {
  static final Path RUN_DIR = LocalClusterScriptIT.ROOT.resolve("client/target/it-run-add");
  static final String PREFIX = "127.0.4";
  static final String BASE = "40";
  static final String FIRST = "127.0.4.41:7379";
  static final String ADDED = "127.0.4.42:7379";

  static LocalClusterScriptIT.Result script(Duration timeout, String... args) throws Exception {
    List<String> command = new ArrayList<>();
    command.add("env");
    for (Map.Entry<String, String> entry :
        Map.of(
                "RINGKV_RUN_DIR",
                RUN_DIR.toString(),
                "RINGKV_ADDRESS_PREFIX",
                PREFIX,
                "RINGKV_ADDRESS_BASE",
                BASE,
                "RINGKV_PARTITIONS",
                "8")
            .entrySet()) {
      command.add(entry.getKey() + "=" + entry.getValue());
    }
    command.add(LocalClusterScriptIT.ROOT.resolve("deploy/local-cluster.sh").toString());
    command.addAll(List.of(args));
    return LocalClusterScriptIT.run(timeout, command.toArray(String[]::new));
  }

  @Test
  void addStartsTheNextNodeInJoinModeAndJoinsIt() throws Exception {
    LocalClusterScriptIT.deleteRecursively(RUN_DIR);
    List<Long> pids = new ArrayList<>();
    try {
      LocalClusterScriptIT.Result start = script(Duration.ofSeconds(200), "start", "1");
      assertThat(start.exitCode()).as(start.stderr()).isZero();

      LocalClusterScriptIT.Result add = script(Duration.ofSeconds(120), "add");
      System.out.println("add exit " + add.exitCode() + ":\n" + add.stdout() + add.stderr());
      assertThat(add.stdout()).contains("node 2 started in join mode on " + ADDED);
      assertThat(Files.readString(RUN_DIR.resolve("added"), StandardCharsets.UTF_8).strip())
          .isEqualTo("2");
      long pid = Long.parseLong(Files.readString(RUN_DIR.resolve("node-2/pid")).strip());
      pids.add(pid);
      String commandLine =
          ProcessHandle.of(pid)
              .flatMap(h -> h.info().arguments())
              .map(List::of)
              .orElseThrow()
              .toString();
      assertThat(commandLine).contains("--join, " + FIRST).doesNotContain("--members");
      if (add.exitCode() == 0) {
        LocalClusterScriptIT.Result members =
            LocalClusterScriptIT.run(
                Duration.ofSeconds(30),
                LocalClusterScriptIT.ROOT.resolve("bin/ringctl").toString(),
                "--endpoints",
                FIRST,
                "cluster",
                "members");
        assertThat(members.stdout().lines().filter(line -> line.startsWith("2 ")))
            .singleElement()
            .satisfies(line -> assertThat(line).contains(ADDED).contains("active"));
      } else {
        assertThat(add.exitCode()).isEqualTo(2);
        assertThat(add.stderr())
            .contains("UNIMPLEMENTED")
            .contains("node 2 runs but was not joined");
      }

      LocalClusterScriptIT.Result status = script(Duration.ofSeconds(60), "status");
      assertThat(status.stdout().lines().filter(line -> line.startsWith("2 ")).findFirst())
          .hasValueSatisfying(line -> assertThat(line).contains("127.0.4.42").contains("running"));
    } finally {
      LocalClusterScriptIT.Result stop = script(Duration.ofSeconds(60), "stop");
      assertThat(stop.exitCode()).as(stop.stderr()).isZero();
    }
    for (long pid : pids) {
      assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false))
          .as("added node pid %d after stop", pid)
          .isFalse();
    }
  }
}
