package io.ringkv.jepsen.harness;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.ringkv.jepsen.checker.CheckLimits;
import io.ringkv.jepsen.checker.Verdict;
import io.ringkv.jepsen.harness.client.ClusterProbe;
import io.ringkv.jepsen.harness.client.GrpcKvClient;
import io.ringkv.jepsen.harness.client.JavaKvClient;
import io.ringkv.jepsen.harness.client.KvClientAdapter;
import io.ringkv.jepsen.harness.client.Outcome;
import io.ringkv.jepsen.harness.cluster.ClusterSpec;
import io.ringkv.jepsen.harness.cluster.LocalCluster;
import io.ringkv.jepsen.harness.nemesis.Firewall;
import io.ringkv.jepsen.harness.nemesis.LocalMembershipControl;
import io.ringkv.jepsen.harness.nemesis.Nemeses;
import io.ringkv.jepsen.harness.nemesis.Nemesis;
import io.ringkv.jepsen.harness.nemesis.SlowNodeWatch;
import io.ringkv.jepsen.history.Keyword;
import io.ringkv.jepsen.history.Op;
import io.ringkv.jepsen.history.OpType;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;

/**
 * Runs one Jepsen-style test end to end.
 *
 * <p>Design notes. The run starts a fresh {@link LocalCluster} under {@code
 * <store>/<test>/<timestamp>/}, then {@code concurrency} client threads, each a Jepsen logical
 * process bound to one node (thread {@code t} to node {@code t mod n + 1}), invoke the workload's
 * operations at {@code rate} in total with exponential gaps drawn from seeded randoms. A client
 * whose operation ends {@code :info} may still have it in flight, so it continues as a new process
 * ({@code +concurrency}), as in Jepsen. A {@link NemesisSchedule} injects faults alongside. When
 * the time is up the clients stop, every fault is healed (rules deleted, paused nodes resumed,
 * killed nodes restarted), the nodes must answer {@code /health} again, and the workload's final
 * reads run. The checkers then judge the history, and the run writes {@code history.edn}, {@code
 * results.edn} and {@code report.html} next to the nodes' logs; the data directories are deleted.
 *
 * <p>If the server answers in a way that makes the test meaningless (UNIMPLEMENTED), the run stops
 * early and reports a harness error, never a verdict.
 */
public final class TestRunner {
  /** Exit status: every checker found the history valid. */
  public static final int EXIT_VALID = 0;

  /** Exit status: some checker found the history invalid. */
  public static final int EXIT_INVALID = 1;

  /** Exit status: some verdict is unknown, or the harness itself failed. */
  public static final int EXIT_UNKNOWN = 2;

  /** How often a final read is tried before the phase gives up on it. */
  private static final int FINAL_READ_ATTEMPTS_MAX = 20;

  private static final Duration LEADER_PROBE_DEADLINE = Duration.ofSeconds(1);
  private static final DateTimeFormatter RUN_DIR_FORMAT =
      DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss.SSS");

  private final TestOptions options;
  private final PrintWriter out;
  private final AtomicReference<String> harnessError = new AtomicReference<>();

  /** The history; made once the cluster is up, so {@code :time} 0 is the start of the load. */
  private HistoryRecorder recorder;

  private final ClientFactory clients;

  /** Where the clients' adapters come from: gRPC to the node, unless a test says otherwise. */
  interface ClientFactory {
    KvClientAdapter create(LocalCluster cluster, int nodeId, ManagedChannel channel);
  }

  private TestRunner(TestOptions options, PrintWriter out, ClientFactory clients) {
    this.options = options;
    this.out = out;
    this.clients = clients;
  }

  /** What a run produced: its folder, overall verdict, exit status and any harness error. */
  public record RunResult(Path runDir, Verdict verdict, int exitStatus, String harnessError) {}

  /** Runs the test described by {@code options}, printing progress to {@code out}. */
  public static RunResult run(TestOptions options, PrintWriter out)
      throws IOException, InterruptedException {
    return run(options, out, clientFactory(CLIENT_DEFAULT, options));
  }

  /** The clients a run can use: {@code java} (the ringkv Java client) or raw {@code grpc}. */
  public static final List<String> CLIENTS = List.of("java", "grpc");

  public static final String CLIENT_DEFAULT = "java";

  /**
   * The adapters of client {@code name}: {@code java} gives each process a ringkv Java client over
   * every node, its own node first (routing, retries and write sessions are the client's); {@code
   * grpc} gives it raw stubs on the channel to its node (the node forwards to the leader).
   */
  static ClientFactory clientFactory(String name, TestOptions options) {
    return switch (name) {
      case "java" ->
          (cluster, nodeId, channel) -> {
            List<String> endpoints = new ArrayList<>();
            for (int i = 0; i < options.nodes(); i++) {
              int id = (nodeId - 1 + i) % options.nodes() + 1;
              endpoints.add(cluster.spec().address(id) + ":" + ClusterSpec.CLIENT_PORT);
            }
            return new JavaKvClient(endpoints, options.opTimeout());
          };
      case "grpc" -> (cluster, nodeId, channel) -> new GrpcKvClient(channel, options.opTimeout());
      default ->
          throw new IllegalArgumentException("unknown client '" + name + "'; known: " + CLIENTS);
    };
  }

  static RunResult run(TestOptions options, PrintWriter out, ClientFactory clients)
      throws IOException, InterruptedException {
    return new TestRunner(options, out, clients).run();
  }

  private RunResult run() throws IOException, InterruptedException {
    String timestamp = LocalDateTime.now().format(RUN_DIR_FORMAT);
    Path runDir = options.storeRoot().resolve(options.testName()).resolve(timestamp);
    Files.createDirectories(runDir);
    String runId = "r" + Long.toString(System.currentTimeMillis(), 36);
    Files.writeString(runDir.resolve("run-id"), runId + "\n");
    out.printf(
        "ringkv-jepsen: test %s, seed %d, run id %s, store %s%n",
        options.testName(), options.seed(), runId, runDir);
    ClusterSpec spec = options.clusterSpec(runDir, runId);
    Workload workload = workload();
    RunOutcome outcome;
    try {
      outcome = runCluster(spec, runId, workload, runDir.resolve("history.edn"));
    } catch (IOException | RuntimeException e) {
      harnessError.compareAndSet(null, "the run failed: " + e);
      outcome = new RunOutcome(0, 0);
    } finally {
      if (recorder != null) {
        recorder.close();
      }
    }
    List<Op> history = recorder == null ? List.of() : recorder.ops();
    deleteDataDirs(spec);
    return finish(runDir, workload, history, outcome);
  }

  private record RunOutcome(long durationNanos, int faultCount) {}

  private RunOutcome runCluster(ClusterSpec spec, String runId, Workload workload, Path historyFile)
      throws IOException, InterruptedException {
    out.printf(
        "starting %d nodes at %s..%s%s%n",
        spec.nodeCount(),
        spec.address(1),
        spec.address(spec.nodeCount()),
        spec.spareCount() == 0
            ? ""
            : "; " + spec.spareCount() + " spare up to " + spec.address(spec.nodeIdMax()));
    List<ManagedChannel> channels = new ArrayList<>();
    try (LocalCluster cluster = LocalCluster.start(spec);
        Firewall firewall = new Firewall(runId).healOnShutdown();
        LocalMembershipControl membership =
            new LocalMembershipControl(cluster, LocalMembershipControl.COMMAND_DEADLINE_DEFAULT)) {
      recorder = new HistoryRecorder(historyFile, System::nanoTime);
      for (int id = 1; id <= spec.nodeIdMax(); id++) {
        channels.add(
            NettyChannelBuilder.forAddress(spec.address(id), ClusterSpec.CLIENT_PORT)
                .usePlaintext()
                .build());
      }
      Nemesis nemesis =
          Nemeses.create(
              options.nemesis(),
              cluster,
              firewall,
              () -> leader(cluster, channels),
              slowNodeWatch(channels),
              spec.spareCount() > 0 ? membership : null);
      if (nemesis != null && options.nemesis().matches("partition|all") && !Firewall.available()) {
        throw new IOException("the partition nemesis needs root and iptables");
      }
      NemesisSchedule schedule =
          nemesis == null
              ? null
              : new NemesisSchedule(
                  nemesis,
                  recorder,
                  options.seed() ^ 0x6e656d65L,
                  options.faultDuration(),
                  options.healedDuration());
      Thread nemesisThread =
          schedule == null ? null : Thread.ofPlatform().name("nemesis").start(schedule);
      out.printf("running %s for %s%n", workload.name(), options.timeLimit());
      try (Workload.Background background =
          workload.background(
              new Workload.BackgroundContext(
                  recorder,
                  spec,
                  options.seed(),
                  options.opTimeout(),
                  error -> harnessError.compareAndSet(null, error)))) {
        background.start();
        runClients(cluster, workload, channels);
        if (nemesisThread != null) {
          schedule.finish();
          nemesisThread.join();
          schedule.heal();
        }
        healEverything(cluster, firewall);
        reconnect(channels);
        if (harnessError.get() == null) {
          background.drain();
          finalPhase(cluster, workload, channels);
        }
      }
      return new RunOutcome(recorder.elapsedNanos(), schedule == null ? 0 : schedule.faultCount());
    } finally {
      for (ManagedChannel channel : channels) {
        channel.shutdownNow();
      }
    }
  }

  /** Reads leaderships and slow flags through the Cluster service; notes go to the history. */
  private SlowNodeWatch slowNodeWatch(List<ManagedChannel> channels) {
    return new SlowNodeWatch() {
      @Override
      public int leadsOf(int node) {
        // The node's own count: another node knows the leaders of its own replicas only.
        io.ringkv.proto.v1.StatusResponse status =
            ClusterProbe.status(channels.get(node - 1), LEADER_PROBE_DEADLINE);
        return status == null ? -1 : status.getPartitionsLedLocally();
      }

      @Override
      public Boolean slowOf(int node) {
        io.ringkv.proto.v1.StatusResponse status =
            ClusterProbe.status(channels.get(node - 1), LEADER_PROBE_DEADLINE);
        return status == null ? null : status.getSlow();
      }

      @Override
      public void note(Keyword f, Map<Object, Object> value) {
        recorder.nemesis(f, value, null);
      }
    };
  }

  private OptionalInt leader(LocalCluster cluster, List<ManagedChannel> channels) {
    for (int id : cluster.memberIds()) {
      if (cluster.isRunning(id) && !cluster.isPaused(id)) {
        return ClusterProbe.busiestLeader(channels.get(id - 1), LEADER_PROBE_DEADLINE);
      }
    }
    return OptionalInt.empty();
  }

  private Workload workload() {
    return switch (options.workload()) {
      case "register" -> new RegisterWorkload(options.keys());
      case "set" -> new SetWorkload();
      case "changefeed" ->
          new ChangefeedWorkload(options.keys(), options.consumers(), options.streamLifetimeMax());
      default -> throw new IllegalArgumentException("unknown workload " + options.workload());
    };
  }

  private void runClients(LocalCluster cluster, Workload workload, List<ManagedChannel> channels)
      throws InterruptedException {
    long deadlineNanos = recorder.elapsedNanos() + options.timeLimit().toNanos();
    double meanGapNanos = options.concurrency() * 1e9 / options.rate();
    List<Thread> threads = new ArrayList<>();
    List<KvClientAdapter> adapters = new ArrayList<>();
    int firstNodes = cluster.nodeCount(); // spares start later; no client is bound to one
    for (int t = 0; t < options.concurrency(); t++) {
      int thread = t;
      KvClientAdapter client =
          clients.create(cluster, thread % firstNodes + 1, channels.get(thread % firstNodes));
      adapters.add(client);
      Random random = new Random(options.seed() * 31 + thread);
      threads.add(
          Thread.ofPlatform()
              .name("client-" + thread)
              .start(
                  () -> clientLoop(workload, client, random, thread, meanGapNanos, deadlineNanos)));
    }
    for (Thread thread : threads) {
      thread.join();
    }
    adapters.forEach(KvClientAdapter::close);
  }

  private void clientLoop(
      Workload workload,
      KvClientAdapter client,
      Random random,
      int thread,
      double meanGapNanos,
      long deadlineNanos) {
    long process = thread;
    while (harnessError.get() == null) {
      long gapNanos = (long) (-Math.log(1 - random.nextDouble()) * meanGapNanos);
      long wakeNanos = recorder.elapsedNanos() + gapNanos;
      if (wakeNanos >= deadlineNanos) {
        return;
      }
      try {
        TimeUnit.NANOSECONDS.sleep(gapNanos); // pacing to the requested rate, not a test wait
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      Outcome outcome = invoke(workload, client, process, workload.next(random));
      if (outcome.type() == OpType.INFO) {
        process += options.concurrency();
      }
    }
  }

  private Outcome invoke(
      Workload workload, KvClientAdapter client, long process, Invocation invocation) {
    recorder.invoke(process, invocation.f(), invocation.value());
    Outcome outcome;
    try {
      outcome = workload.apply(client, invocation);
    } catch (RuntimeException e) {
      outcome = Outcome.info("client error: " + e);
    }
    Object value = outcome.type() == OpType.OK ? outcome.value() : invocation.value();
    recorder.complete(process, outcome.type(), invocation.f(), value, outcome.error());
    if (outcome.harnessError()) {
      harnessError.compareAndSet(null, outcome.error());
    }
    return outcome;
  }

  private void healEverything(LocalCluster cluster, Firewall firewall)
      throws IOException, InterruptedException {
    firewall.healAll();
    for (int id : cluster.memberIds()) {
      if (!cluster.isRunning(id)) {
        cluster.restart(id);
      } else if (cluster.isPaused(id)) {
        cluster.resume(id);
      }
    }
    for (int id : cluster.memberIds()) {
      cluster.awaitHealthy(id);
    }
  }

  /** After healing, channels to restarted nodes reconnect now, not after their backoff. */
  private static void reconnect(List<ManagedChannel> channels) {
    for (ManagedChannel channel : channels) {
      channel.resetConnectBackoff();
    }
  }

  /** Final reads, each retried until it succeeds or attempts run out, by fresh processes. */
  private void finalPhase(LocalCluster cluster, Workload workload, List<ManagedChannel> channels)
      throws InterruptedException {
    List<Workload.FinalRead> reads = workload.finalReads(cluster.nodeCount());
    out.printf("healed; %d final reads%n", reads.size());
    long process = 1_000_000L; // above every client process number of the main phase
    List<Integer> members = cluster.memberIds();
    for (Workload.FinalRead read : reads) {
      // A node the membership nemesis retired is gone: its read goes to a member instead.
      int node =
          cluster.isRetired(read.nodeId())
              ? members.get(read.nodeId() % members.size())
              : read.nodeId();
      KvClientAdapter client = clients.create(cluster, node, channels.get(node - 1));
      for (int attempt = 0; attempt < FINAL_READ_ATTEMPTS_MAX; attempt++) {
        Outcome outcome = invoke(workload, client, process++, read.invocation());
        if (outcome.type() == OpType.OK || harnessError.get() != null) {
          break;
        }
        TimeUnit.MILLISECONDS.sleep(options.opTimeout().toMillis() / 4); // back off, as a client
      }
      client.close();
      if (harnessError.get() != null) {
        return;
      }
    }
  }

  private RunResult finish(Path runDir, Workload workload, List<Op> history, RunOutcome outcome)
      throws IOException {
    List<CheckOutcome> checks = new ArrayList<>();
    String error = harnessError.get();
    if (error == null
        && history.stream().noneMatch(op -> op.isClient() && op.type() == OpType.OK)) {
      error = "no client operation succeeded; nothing to check";
    }
    if (error == null) {
      error = unimplementedFault(history);
    }
    if (error == null) {
      try {
        CheckLimits limits = CheckLimits.defaults().withTimeLimit(options.checkTimeLimit());
        checks.addAll(workload.check(history, limits));
      } catch (IllegalArgumentException e) {
        error = "the checker rejected the history: " + e.getMessage();
      }
    }
    Verdict verdict =
        error != null
            ? Verdict.UNKNOWN
            : checks.stream().map(CheckOutcome::verdict).reduce(Verdict.VALID, Verdict::and);
    int exit =
        switch (verdict) {
          case VALID -> EXIT_VALID;
          case INVALID -> EXIT_INVALID;
          case UNKNOWN -> EXIT_UNKNOWN;
        };
    RunSummary summary =
        new RunSummary(options, history, checks, verdict, error, outcome.faultCount());
    ResultsWriter.write(runDir.resolve("results.edn"), summary);
    ReportWriter.write(runDir.resolve("report.html"), summary);
    for (CheckOutcome check : checks) {
      out.printf("%s: %s%n%s", check.checker(), check.verdict().label(), check.text());
    }
    if (error != null) {
      out.println("harness error: " + error);
    }
    out.printf("verdict: %s; results in %s%n", verdict.label(), runDir);
    return new RunResult(runDir, verdict, exit, error);
  }

  /**
   * A fault the server could not carry out because it does not implement the call (e.g. AddNode on
   * a server without membership changes): the run did not test what it says, so it has no verdict.
   */
  static String unimplementedFault(List<Op> history) {
    for (Op op : history) {
      Object error = op.extra().get(Keyword.of("error"));
      if (!op.isClient() && error != null && error.toString().contains("UNIMPLEMENTED")) {
        return "the nemesis's " + op.f() + " needs what the server does not implement: " + error;
      }
    }
    return null;
  }

  private static void deleteDataDirs(ClusterSpec spec) throws IOException {
    for (int id = 1; id <= spec.nodeIdMax(); id++) {
      Path data = spec.nodeDir(id).resolve("data");
      if (!Files.exists(data)) {
        continue;
      }
      try (Stream<Path> files = Files.walk(data)) {
        for (Path file : files.sorted(Comparator.reverseOrder()).toList()) {
          Files.delete(file);
        }
      }
    }
  }
}
