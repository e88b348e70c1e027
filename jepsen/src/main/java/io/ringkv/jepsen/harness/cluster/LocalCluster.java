package io.ringkv.jepsen.harness.cluster;

import io.ringkv.jepsen.Invariants;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Real ringkv node processes on loopback aliases, for the Jepsen-style suite.
 *
 * <p>Design notes. Each node is a child JVM started straight from the server jar (not through
 * {@code bin/ringkv}), so the pid we hold is the node's own pid: SIGKILL, SIGSTOP and SIGCONT reach
 * the node and nothing else. The cluster only ever signals processes it started and still holds a
 * {@link Process} for; a shutdown hook tears them down on Ctrl-C, and {@link #close()} on any other
 * exit. Start-up and restart wait for {@code /health} to answer 200 within a bounded time, and fail
 * fast, with the tail of the node's log, when the process dies first. Java cannot send SIGSTOP or
 * SIGCONT, so pauses go through {@code /bin/kill}.
 *
 * <p>Membership. The spec's spare nodes are not started with the cluster: {@link #startSpare}
 * starts one in join mode (it learns the cluster map from the first nodes and waits to be added). A
 * node the cluster map has removed is {@link #retire retired}: killed, and never restarted or
 * targeted again. {@link #memberIds} is the nodes started and not retired.
 */
public final class LocalCluster implements AutoCloseable {
  /** How long the server build may take when its jar is missing. */
  private static final Duration BUILD_TIMEOUT = Duration.ofMinutes(10);

  /** How long a killed node may take to be reaped. */
  private static final Duration EXIT_TIMEOUT = Duration.ofSeconds(20);

  private static final Duration HEALTH_POLL_INTERVAL = Duration.ofMillis(100);
  private static final Duration HEALTH_REQUEST_TIMEOUT = Duration.ofSeconds(1);
  private static final int LOG_TAIL_LINES = 30;

  private final ClusterSpec spec;
  private final List<String> classPath;
  private final NodeProcess[] nodes;
  private final HttpClient http;
  private final Thread shutdownHook;
  private boolean closed;

  private LocalCluster(ClusterSpec spec, List<String> classPath) {
    this.spec = spec;
    this.classPath = classPath;
    this.nodes = new NodeProcess[spec.nodeIdMax() + 1];
    this.http = HttpClient.newBuilder().connectTimeout(HEALTH_REQUEST_TIMEOUT).build();
    this.shutdownHook = new Thread(this::destroyAll, "ringkv-jepsen-teardown");
  }

  /**
   * Builds the server if needed, starts every node on a fresh data directory and waits until all
   * answer {@code /health}. On any failure the nodes already started are torn down.
   */
  public static LocalCluster start(ClusterSpec spec) throws IOException, InterruptedException {
    List<String> classPath = serverClassPath(spec.repositoryRoot(), spec.storeDir());
    for (int id = 1; id <= spec.nodeCount(); id++) {
      checkAddressFree(spec, id);
    }
    LocalCluster cluster = new LocalCluster(spec, classPath);
    Runtime.getRuntime().addShutdownHook(cluster.shutdownHook);
    try {
      for (int id = 1; id <= spec.nodeCount(); id++) {
        Path dataDir = spec.nodeDir(id).resolve("data");
        if (Files.exists(dataDir)) {
          throw new IOException("data directory " + dataDir + " exists; a run starts fresh");
        }
        Files.createDirectories(dataDir);
        cluster.launch(id);
      }
      for (int id = 1; id <= spec.nodeCount(); id++) {
        cluster.awaitHealthy(id);
      }
      return cluster;
    } catch (IOException | InterruptedException | RuntimeException e) {
      cluster.close();
      throw e;
    }
  }

  public ClusterSpec spec() {
    return spec;
  }

  public int nodeCount() {
    return spec.nodeCount();
  }

  /** The loopback address of node {@code nodeId}. */
  public String address(int nodeId) {
    return spec.address(nodeId);
  }

  /** Node {@code nodeId}'s log file (appended across restarts). */
  public Path logFile(int nodeId) {
    return spec.nodeDir(nodeId).resolve("node.log");
  }

  /** The nodes started (first nodes and started spares) and not retired, in id order. */
  public synchronized List<Integer> memberIds() {
    List<Integer> ids = new ArrayList<>();
    for (int id = 1; id < nodes.length; id++) {
      if (nodes[id] != null && !nodes[id].retired) {
        ids.add(id);
      }
    }
    return ids;
  }

  /** Spare node ids never started yet, in id order. */
  public synchronized List<Integer> unusedSpareIds() {
    List<Integer> ids = new ArrayList<>();
    for (int id = spec.nodeCount() + 1; id < nodes.length; id++) {
      if (nodes[id] == null) {
        ids.add(id);
      }
    }
    return ids;
  }

  public synchronized boolean isRetired(int nodeId) {
    NodeProcess node = node(nodeId);
    return node != null && node.retired;
  }

  /**
   * Starts spare node {@code nodeId} on a fresh data directory in join mode ({@code --join} the
   * first nodes) and waits for its health. It holds no replica until the cluster adds it.
   */
  public void startSpare(int nodeId) throws IOException, InterruptedException {
    synchronized (this) {
      if (!spec.isSpare(nodeId) || nodes[nodeId] != null) {
        throw new IllegalStateException("node " + nodeId + " is not an unused spare");
      }
      checkAddressFree(spec, nodeId);
      Path dataDir = spec.nodeDir(nodeId).resolve("data");
      if (Files.exists(dataDir)) {
        throw new IOException("data directory " + dataDir + " exists; a spare starts fresh");
      }
      Files.createDirectories(dataDir);
      launch(nodeId);
    }
    awaitHealthy(nodeId);
  }

  /**
   * Kills node {@code nodeId} for good: the cluster map no longer holds it. It is never restarted
   * and leaves {@link #memberIds}.
   */
  public synchronized void retire(int nodeId) throws InterruptedException {
    NodeProcess node = node(nodeId);
    if (node == null) {
      throw new IllegalStateException("node " + nodeId + " was never started");
    }
    kill(nodeId);
    node.retired = true;
  }

  /** The pid of node {@code nodeId}'s current process, or -1 when it is not running. */
  public synchronized long pid(int nodeId) {
    NodeProcess node = node(nodeId);
    return node != null && node.process.isAlive() ? node.process.pid() : -1;
  }

  /** Every pid this cluster has started, alive or not (tests check they are all gone). */
  public synchronized List<Long> startedPids() {
    List<Long> pids = new ArrayList<>();
    for (NodeProcess node : nodes) {
      if (node != null) {
        pids.addAll(node.history);
      }
    }
    return pids;
  }

  public synchronized boolean isRunning(int nodeId) {
    return pid(nodeId) != -1;
  }

  public synchronized boolean isPaused(int nodeId) {
    NodeProcess node = node(nodeId);
    return node != null && node.paused;
  }

  /** SIGKILLs node {@code nodeId} and waits until it is gone; its data stays. */
  public synchronized void kill(int nodeId) throws InterruptedException {
    NodeProcess node = node(nodeId);
    if (node == null || !node.process.isAlive()) {
      return;
    }
    node.process.destroyForcibly(); // SIGKILL on Unix, even for a stopped process
    if (!node.process.waitFor(EXIT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new IllegalStateException("node " + nodeId + " survived SIGKILL for " + EXIT_TIMEOUT);
    }
    node.paused = false;
  }

  /**
   * SIGKILLs every running node of {@code nodeIds} at the same instant, as a power loss would: ONE
   * {@code kill} call signals all their pids, with no wait between them, and only then does this
   * wait for each to be gone. Their data stays. Answers the nodes it killed.
   */
  public synchronized List<Integer> killAll(List<Integer> nodeIds)
      throws IOException, InterruptedException {
    List<Integer> targets = new ArrayList<>();
    List<Long> pids = new ArrayList<>();
    for (int nodeId : nodeIds) {
      NodeProcess node = node(nodeId);
      if (node != null && !node.retired && node.process.isAlive()) {
        targets.add(nodeId);
        pids.add(node.process.pid());
      }
    }
    if (targets.isEmpty()) {
      return targets;
    }
    try {
      signal(pids, "KILL");
    } catch (IOException oneAlreadyGone) {
      // A node that died by itself just before is already reaped; the others were signalled.
      for (int nodeId : targets) {
        nodes[nodeId].process.destroyForcibly();
      }
    }
    for (int nodeId : targets) {
      NodeProcess node = nodes[nodeId];
      if (!node.process.waitFor(EXIT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new IllegalStateException("node " + nodeId + " survived SIGKILL for " + EXIT_TIMEOUT);
      }
      node.paused = false;
    }
    return targets;
  }

  /**
   * Starts every node of {@code nodeIds} again on its existing data, all of them before waiting for
   * any one's health, as machines coming back after a power loss would.
   */
  public void restartAll(List<Integer> nodeIds) throws IOException, InterruptedException {
    synchronized (this) {
      for (int nodeId : nodeIds) {
        if (isRunning(nodeId) || isRetired(nodeId)) {
          throw new IllegalStateException("node " + nodeId + " is running or retired");
        }
      }
      for (int nodeId : nodeIds) {
        launch(nodeId);
      }
    }
    for (int nodeId : nodeIds) {
      awaitHealthy(nodeId);
    }
  }

  /** Starts node {@code nodeId} again on its existing data and waits for its health. */
  public void restart(int nodeId) throws IOException, InterruptedException {
    synchronized (this) {
      if (isRunning(nodeId)) {
        throw new IllegalStateException("node " + nodeId + " is still running");
      }
      if (isRetired(nodeId)) {
        throw new IllegalStateException("node " + nodeId + " is retired");
      }
      launch(nodeId);
    }
    awaitHealthy(nodeId);
  }

  /** SIGSTOPs node {@code nodeId}. */
  public synchronized void pause(int nodeId) throws IOException, InterruptedException {
    NodeProcess node = requireRunning(nodeId);
    signal(List.of(node.process.pid()), "STOP");
    node.paused = true;
  }

  /** SIGCONTs node {@code nodeId}. */
  public synchronized void resume(int nodeId) throws IOException, InterruptedException {
    NodeProcess node = requireRunning(nodeId);
    signal(List.of(node.process.pid()), "CONT");
    node.paused = false;
  }

  /** True when node {@code nodeId}'s {@code /health} answers 200 now. */
  public boolean isHealthy(int nodeId) throws InterruptedException {
    HttpRequest request =
        HttpRequest.newBuilder(
                URI.create(
                    "http://" + address(nodeId) + ":" + ClusterSpec.METRICS_PORT + "/health"))
            .timeout(HEALTH_REQUEST_TIMEOUT)
            .GET()
            .build();
    try {
      return http.send(request, HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
    } catch (IOException e) {
      return false;
    }
  }

  /** Waits until node {@code nodeId} answers {@code /health}, or fails with its log's tail. */
  public void awaitHealthy(int nodeId) throws InterruptedException {
    Instant deadline = Instant.now().plus(spec.healthTimeout());
    while (true) {
      NodeProcess node;
      synchronized (this) {
        node = requireRunning(nodeId);
      }
      if (isHealthy(nodeId)) {
        return;
      }
      if (!node.process.isAlive()) {
        throw new IllegalStateException(
            "node " + nodeId + " exited with " + node.process.exitValue() + logTail(nodeId));
      }
      if (Instant.now().isAfter(deadline)) {
        throw new IllegalStateException(
            "node " + nodeId + " not healthy within " + spec.healthTimeout() + logTail(nodeId));
      }
      Thread.sleep(HEALTH_POLL_INTERVAL.toMillis());
    }
  }

  /** Kills every node and waits for them; idempotent. The data and logs stay. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    destroyAll();
    try {
      Runtime.getRuntime().removeShutdownHook(shutdownHook);
    } catch (IllegalStateException alreadyShuttingDown) {
      // the hook is running or has run; nothing to unregister
    }
  }

  private synchronized void destroyAll() {
    for (int id = 1; id < nodes.length; id++) {
      NodeProcess node = nodes[id];
      if (node != null && node.process.isAlive()) {
        node.process.destroyForcibly();
      }
    }
    for (int id = 1; id < nodes.length; id++) {
      NodeProcess node = nodes[id];
      if (node == null) {
        continue;
      }
      try {
        node.process.waitFor(EXIT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  private synchronized void launch(int nodeId) throws IOException {
    if (closed) {
      throw new IllegalStateException("the cluster is closed");
    }
    Path nodeDir = spec.nodeDir(nodeId);
    Path log = logFile(nodeId);
    Files.writeString(
        log,
        "---- ringkv-jepsen: starting node " + nodeId + " at " + Instant.now() + "\n",
        StandardCharsets.UTF_8,
        java.nio.file.StandardOpenOption.CREATE,
        java.nio.file.StandardOpenOption.APPEND);
    List<String> command = new ArrayList<>();
    command.add(javaExecutable());
    command.add("--enable-native-access=ALL-UNNAMED");
    command.add("-Xms64m");
    command.add("-Xmx512m");
    command.add("-cp");
    command.add(String.join(java.io.File.pathSeparator, classPath));
    command.add("io.ringkv.server.NodeMain");
    command.addAll(
        List.of(
            "--data-dir", nodeDir.resolve("data").toString(),
            "--node-id", Integer.toString(nodeId),
            "--host", address(nodeId),
            "--cluster-id", spec.clusterId()));
    if (spec.isSpare(nodeId)) {
      // Join mode: partitions, replication factor and members come from the fetched map.
      command.addAll(List.of("--join", spec.joinFlag()));
    } else {
      command.addAll(
          List.of(
              "--members", spec.membersFlag(),
              "--partitions", Integer.toString(spec.partitions()),
              "--replication-factor", Integer.toString(spec.replicationFactor())));
    }
    command.addAll(spec.extraNodeFlags());
    Process process =
        new ProcessBuilder(command)
            .directory(nodeDir.toFile())
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
            .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
            .start();
    NodeProcess previous = nodes[nodeId];
    NodeProcess node = new NodeProcess(process);
    if (previous != null) {
      Invariants.check(!previous.retired, "node %d is retired", nodeId);
      node.history.addAll(previous.history);
    }
    Invariants.check(!node.history.contains(process.pid()), "pid %d started twice", process.pid());
    node.history.add(process.pid());
    nodes[nodeId] = node;
  }

  private NodeProcess node(int nodeId) {
    spec.checkNode(nodeId);
    return nodes[nodeId];
  }

  private NodeProcess requireRunning(int nodeId) {
    NodeProcess node = node(nodeId);
    if (node == null || !node.process.isAlive()) {
      throw new IllegalStateException("node " + nodeId + " is not running");
    }
    return node;
  }

  private String logTail(int nodeId) {
    try (Stream<String> lines = Files.lines(logFile(nodeId), StandardCharsets.UTF_8)) {
      List<String> all = lines.toList();
      List<String> tail = all.subList(Math.max(0, all.size() - LOG_TAIL_LINES), all.size());
      return "; last lines of " + logFile(nodeId) + ":\n  " + String.join("\n  ", tail);
    } catch (IOException | UncheckedIOException e) {
      return "; its log cannot be read: " + e;
    }
  }

  /**
   * Sends {@code SIG<name>} to every pid of {@code pids} with one {@code /bin/kill} call (Java has
   * no SIGSTOP, and one call signals many processes with no gap between them).
   */
  private static void signal(List<Long> pids, String name)
      throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of("/bin/kill", "-" + name));
    for (long pid : pids) {
      command.add(Long.toString(pid));
    }
    Process kill = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(kill.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!kill.waitFor(EXIT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS) || kill.exitValue() != 0) {
      throw new IOException("kill -" + name + " " + pids + " failed: " + output.strip());
    }
  }

  /** Refuses to start where something already listens: another cluster may own the address. */
  private static void checkAddressFree(ClusterSpec spec, int nodeId) throws IOException {
    String host = spec.address(nodeId);
    for (int port :
        new int[] {ClusterSpec.CLIENT_PORT, ClusterSpec.PEER_PORT, ClusterSpec.METRICS_PORT}) {
      try (Socket socket = new Socket()) {
        socket.connect(new InetSocketAddress(host, port), 200);
      } catch (IOException refused) {
        continue;
      }
      throw new IOException(
          host
              + ":"
              + port
              + " is already in use (another ringkv cluster?); pick another"
              + " --address-base");
    }
  }

  private static String javaExecutable() {
    return ProcessHandle.current()
        .info()
        .command()
        .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
  }

  /**
   * The server's runtime class path: its jar and {@code server/target/lib/*}, after building it
   * with {@code ./mvnw -B -q -pl server -am package -DskipTests} when the jar is missing.
   */
  static List<String> serverClassPath(Path root, Path storeDir)
      throws IOException, InterruptedException {
    Path target = root.resolve("server").resolve("target");
    Path jar = findServerJar(target);
    if (jar == null || !Files.isDirectory(target.resolve("lib"))) {
      buildServer(root, storeDir);
      jar = findServerJar(target);
      if (jar == null) {
        throw new IOException("the server build left no jar in " + target);
      }
    }
    return List.of(jar.toString(), target.resolve("lib").resolve("*").toString());
  }

  private static Path findServerJar(Path target) throws IOException {
    if (!Files.isDirectory(target)) {
      return null;
    }
    try (Stream<Path> files = Files.list(target)) {
      return files
          .filter(p -> p.getFileName().toString().matches("ringkv-server-[^-]+(-SNAPSHOT)?\\.jar"))
          .findFirst()
          .orElse(null);
    }
  }

  private static void buildServer(Path root, Path storeDir)
      throws IOException, InterruptedException {
    Files.createDirectories(storeDir);
    Path log = storeDir.resolve("server-build.log");
    Process build =
        new ProcessBuilder("./mvnw", "-B", "-q", "-pl", "server", "-am", "package", "-DskipTests")
            .directory(root.toFile())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
    if (!build.waitFor(BUILD_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
      build.destroyForcibly();
      throw new IOException("the server build took longer than " + BUILD_TIMEOUT + "; see " + log);
    }
    if (build.exitValue() != 0) {
      throw new IOException("the server build failed; see " + log);
    }
  }

  /** The repository root: {@code from} or its nearest parent holding {@code bin/ringkv}. */
  public static Path findRepositoryRoot(Path from) {
    for (Path dir = from.toAbsolutePath().normalize(); dir != null; dir = dir.getParent()) {
      if (Files.isRegularFile(dir.resolve("bin").resolve("ringkv"))
          && Files.isDirectory(dir.resolve("server"))) {
        return dir;
      }
    }
    throw new IllegalArgumentException(
        "no ringkv repository (bin/ringkv) at or above " + from.toAbsolutePath());
  }

  private static final class NodeProcess {
    final Process process;
    final List<Long> history = new ArrayList<>();
    boolean paused;
    boolean retired;

    NodeProcess(Process process) {
      this.process = process;
    }
  }
}
