package io.ringkv.jepsen.harness;

import io.ringkv.jepsen.harness.cluster.ClusterSpec;
import io.ringkv.jepsen.harness.cluster.LocalCluster;
import io.ringkv.jepsen.harness.nemesis.Firewall;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ringkv-jepsen test}: runs a Jepsen-style test against a local cluster it starts. */
@Command(
    name = "test",
    mixinStandardHelpOptions = true,
    description = {
      "Starts a local ringkv cluster on loopback aliases, runs a workload under a nemesis, checks"
          + " the history and writes jepsen/store/<test>/<timestamp>/.",
      "Exit status: 0 valid, 1 invalid, 2 unknown or harness error."
    })
public final class TestCommand implements Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(
      names = "--workload",
      defaultValue = "register",
      description = "register, set or changefeed (default: ${DEFAULT-VALUE})")
  String workload;

  @Option(
      names = "--nemesis",
      defaultValue = "none",
      description =
          "none, partition, kill, pause, slow, membership (needs --spare-nodes) or all (membership"
              + " among them when there are spare nodes) (default: ${DEFAULT-VALUE})")
  String nemesis;

  @Option(names = "--nodes", defaultValue = "5", description = "nodes (default: ${DEFAULT-VALUE})")
  int nodes;

  @Option(
      names = "--time-limit",
      defaultValue = "60",
      description = "seconds of client load (default: ${DEFAULT-VALUE})")
  long timeLimitSeconds;

  @Option(
      names = "--concurrency",
      defaultValue = "10",
      description = "client processes (default: ${DEFAULT-VALUE})")
  int concurrency;

  @Option(
      names = "--rate",
      defaultValue = "200",
      description =
          "client operations per second, all clients together (default: ${DEFAULT-VALUE})")
  double rate;

  @Option(
      names = "--keys",
      defaultValue = "8",
      description = "register (or changefeed) keys (default: ${DEFAULT-VALUE})")
  int keys;

  @Option(
      names = "--consumers",
      defaultValue = "3",
      description =
          "changefeed consumers, each dropping and resuming its stream at random"
              + " (default: ${DEFAULT-VALUE})")
  int consumers;

  @Option(
      names = "--stream-seconds",
      defaultValue = "5",
      description =
          "changefeed: a consumer drops each stream after a random 0.3 s up to this many seconds"
              + " (default: ${DEFAULT-VALUE})")
  double streamSeconds;

  @Option(
      names = "--debug-watch-drop-one-in",
      defaultValue = "0",
      description =
          "start the nodes with their test-only switch that drops every N-th event a stream"
              + " delivers (0: off); the changefeed verdict should become invalid")
  int debugWatchDropOneIn;

  @Option(
      names = "--client",
      defaultValue = TestRunner.CLIENT_DEFAULT,
      description =
          "java (the ringkv Java client: routing, retries, write sessions) or grpc (raw stubs to"
              + " each process's node) (default: ${DEFAULT-VALUE})")
  String client;

  @Option(
      names = "--unsafe-stale-reads",
      description =
          "start the nodes with their UNSAFE debug switch: linearizable reads served by any"
              + " replica without ReadIndex; the verdict should become invalid under partitions")
  boolean unsafeStaleReads;

  @Option(names = "--seed", description = "random seed (default: the time); printed to replay")
  Long seed;

  @Option(
      names = "--spare-nodes",
      defaultValue = "0",
      description =
          "nodes on the next addresses that the membership nemesis starts in join mode and adds"
              + " (default: ${DEFAULT-VALUE})")
  int spareNodes;

  @Option(
      names = "--address-prefix",
      defaultValue = ClusterSpec.ADDRESS_PREFIX_DEFAULT,
      description = "the loopback /24 of the nodes' addresses (default: ${DEFAULT-VALUE})")
  String addressPrefix;

  @Option(
      names = "--debug-move-skip-snapshot-data",
      description =
          "start the nodes with their test-only switch that installs a received snapshot's"
              + " metadata but not its data; with --nemesis membership the verdict should become"
              + " invalid")
  boolean debugMoveSkipSnapshotData;

  @Option(
      names = "--debug-unsynced-writes",
      description =
          "start the nodes with their test-only switch that acknowledges storage writes still in"
              + " the node's memory, never fsynced; with --nemesis crash-all the set verdict should"
              + " become invalid")
  boolean debugUnsyncedWrites;

  @Option(
      names = "--address-base",
      defaultValue = "" + ClusterSpec.ADDRESS_BASE_DEFAULT,
      description = "node i listens on <address-prefix>(base+i) (default: ${DEFAULT-VALUE})")
  int addressBase;

  @Option(
      names = "--partitions",
      defaultValue = "16",
      description = "partitions of the cluster, a power of two (default: ${DEFAULT-VALUE})")
  int partitions;

  @Option(
      names = "--op-timeout-ms",
      defaultValue = "2000",
      description = "deadline of each client call (default: ${DEFAULT-VALUE})")
  long opTimeoutMillis;

  @Option(
      names = "--fault-seconds",
      defaultValue = "10",
      description = "how long each fault lasts (default: ${DEFAULT-VALUE})")
  long faultSeconds;

  @Option(
      names = "--healed-seconds",
      defaultValue = "10",
      description = "how long the cluster stays healed between faults (default: ${DEFAULT-VALUE})")
  long healedSeconds;

  @Option(
      names = "--health-timeout",
      defaultValue = "60",
      description = "seconds a node may take to answer /health (default: ${DEFAULT-VALUE})")
  long healthTimeoutSeconds;

  @Option(
      names = "--check-time-limit",
      defaultValue = "600",
      description =
          "seconds the checkers may take before the verdict is unknown (default: ${DEFAULT-VALUE})")
  long checkTimeLimitSeconds;

  @Option(names = "--store", description = "store folder (default: <repository>/jepsen/store)")
  Path store;

  @Option(
      names = "--remove-rules-of",
      paramLabel = "RUN_ID",
      description =
          "only delete the iptables rules a crashed run left (its run-id file), then exit")
  String removeRulesOf;

  @Override
  public Integer call() throws IOException, InterruptedException {
    PrintWriter out = spec.commandLine().getOut();
    if (removeRulesOf != null) {
      int removed = Firewall.removeRulesOf(removeRulesOf);
      out.printf("removed %d iptables rules of run %s%n", removed, removeRulesOf);
      return TestRunner.EXIT_VALID;
    }
    Path root = LocalCluster.findRepositoryRoot(Path.of(""));
    long actualSeed = seed != null ? seed : System.nanoTime();
    TestOptions options =
        new TestOptions(
            workload,
            nemesis,
            nodes,
            Duration.ofSeconds(timeLimitSeconds),
            concurrency,
            rate,
            keys,
            actualSeed,
            addressBase,
            partitions,
            Duration.ofMillis(opTimeoutMillis),
            Duration.ofSeconds(faultSeconds),
            Duration.ofSeconds(healedSeconds),
            Duration.ofSeconds(healthTimeoutSeconds),
            Duration.ofSeconds(checkTimeLimitSeconds),
            root,
            store != null ? store : root.resolve("jepsen").resolve("store"),
            unsafeStaleReads,
            consumers,
            Duration.ofMillis((long) (streamSeconds * 1000)),
            debugWatchDropOneIn,
            spareNodes,
            addressPrefix,
            debugMoveSkipSnapshotData,
            debugUnsyncedWrites);
    if (!TestRunner.CLIENTS.contains(client)) {
      throw new CommandLine.ParameterException(
          spec.commandLine(), "unknown client '" + client + "'; known: " + TestRunner.CLIENTS);
    }
    out.printf("client: %s%n", client);
    if (debugWatchDropOneIn > 0) {
      out.printf("PLANTED BUG: nodes drop one watch event in %d%n", debugWatchDropOneIn);
    }
    if (debugMoveSkipSnapshotData) {
      out.println("PLANTED BUG: nodes install received snapshots without their data");
    }
    if (debugUnsyncedWrites) {
      out.println("PLANTED BUG: nodes acknowledge writes that are not durable");
    }
    if (unsafeStaleReads) {
      out.println(
          "UNSAFE: nodes serve linearizable reads without ReadIndex (--unsafe-stale-reads)");
    }
    return TestRunner.run(options, out, TestRunner.clientFactory(client, options)).exitStatus();
  }
}
