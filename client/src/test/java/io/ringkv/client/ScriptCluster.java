package io.ringkv.client;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A test's own cluster of real node processes run by deploy/local-cluster.sh: its run directory,
 * its loopback range (node i on 127.0.0.(addressBase + i)) and any further environment for the
 * script. Each script call must finish within three minutes and exit 0.
 */
record ScriptCluster(Path root, Path runDir, int addressBase, Map<String, String> environment) {
  static final long SCRIPT_SECONDS_MAX = 180;

  void script(String... args) throws Exception {
    List<String> command = new ArrayList<>();
    command.add(root.resolve("deploy/local-cluster.sh").toString());
    command.addAll(List.of(args));
    ProcessBuilder builder = new ProcessBuilder(command).directory(root.toFile()).inheritIO();
    builder.environment().put("RINGCTL_CLASSPATH", System.getProperty("java.class.path"));
    builder.environment().put("RINGKV_RUN_DIR", runDir.toString());
    builder.environment().put("RINGKV_ADDRESS_BASE", Integer.toString(addressBase));
    builder.environment().putAll(environment);
    Process process = builder.start();
    assertThat(process.waitFor(SCRIPT_SECONDS_MAX, TimeUnit.SECONDS))
        .as("%s finished", command)
        .isTrue();
    assertThat(process.exitValue()).as("%s exit", command).isZero();
  }

  /**
   * Deletes what an earlier run left in the run directory, then starts {@code nodes} nodes (with
   * {@code startFlags} such as --tls).
   */
  void startFresh(int nodes, String... startFlags) throws Exception {
    if (Files.exists(runDir)) {
      try (Stream<Path> paths = Files.walk(runDir)) {
        for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
          Files.delete(path);
        }
      }
    }
    List<String> args = new ArrayList<>(List.of("start", Integer.toString(nodes)));
    args.addAll(List.of(startFlags));
    script(args.toArray(new String[0]));
  }
}
