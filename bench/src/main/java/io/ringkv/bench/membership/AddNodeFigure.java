package io.ringkv.bench.membership;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.ringkv.bench.load.LoadTool;
import io.ringkv.client.Consistency;
import io.ringkv.client.RingKvClient;
import io.ringkv.proto.internal.ClusterMap;
import io.ringkv.proto.internal.ClusterMember;
import io.ringkv.proto.internal.GetClusterMapRequest;
import io.ringkv.proto.internal.ReplicaAdminGrpc;
import io.ringkv.proto.v1.AddNodeRequest;
import io.ringkv.proto.v1.AddNodeResponse;
import io.ringkv.proto.v1.ClusterGrpc;
import io.ringkv.proto.v1.PlanRequest;
import io.ringkv.proto.v1.PlanResponse;
import io.ringkv.proto.v1.PlannedMove;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * The add-node figure: time to add a fourth node to a three-node cluster holding {@code --bytes},
 * the bytes the planner moved against the theoretical share (replica bytes / nodes after the join),
 * and client latency during the move against the same load without it.
 *
 * <p>Phases: fill (unique keys of {@code --value-bytes} each, {@code --fill-inflight} outstanding);
 * rest ({@code --rest-seconds} without load, so that flushes and compactions of the fill end);
 * baseline (an open-loop 50/50 put / linearizable get mix at {@code --rate} for {@code
 * --baseline-seconds}, latency from each request's intended send time, so a stall counts against
 * every request due during it); then Cluster.AddNode of the running join-mode node at {@code
 * --join-address} and the same load until the cluster map holds it ACTIVE with no move left, at
 * most {@code --settle-seconds-max}; then the same load again for {@code --baseline-seconds} on the
 * settled cluster, a check that the machine did not change under the baseline. The nodes are
 * started and stopped by {@code bin/ringkv-bench add-node}.
 */
public final class AddNodeFigure {
  static final long DRAIN_TIMEOUT_SECONDS = 15;
  static final long MAP_POLL_MILLIS = 500;
  static final int LOAD_KEYS = 10_000;
  static final int LOAD_INFLIGHT_MAX = 256;

  private AddNodeFigure() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> options = LoadTool.parse(args);
    List<String> endpoints = List.of(options.getOrDefault("endpoints", "").split(","));
    String joinAddress = options.get("join-address");
    String clusterId = options.getOrDefault("cluster-id", "ringkv-bench-add-node");
    long bytes = Long.parseLong(options.getOrDefault("bytes", Long.toString(256L << 20)));
    int valueBytes = Integer.parseInt(options.getOrDefault("value-bytes", "4096"));
    int fillInflight = Integer.parseInt(options.getOrDefault("fill-inflight", "32"));
    long rate = Long.parseLong(options.getOrDefault("rate", "200"));
    long baselineSeconds = Long.parseLong(options.getOrDefault("baseline-seconds", "30"));
    long settleSecondsMax = Long.parseLong(options.getOrDefault("settle-seconds-max", "1800"));
    long seed = Long.parseLong(options.getOrDefault("seed", "1"));
    long restSeconds = Long.parseLong(options.getOrDefault("rest-seconds", "60"));
    if (joinAddress == null || endpoints.getFirst().isEmpty()) {
      throw new IllegalArgumentException("--endpoints and --join-address are required");
    }
    System.out.printf(
        "add-node: bytes=%d value-bytes=%d rate=%d/s baseline=%ds seed=%d endpoints=%s join=%s%n",
        bytes, valueBytes, rate, baselineSeconds, seed, endpoints, joinAddress);
    ManagedChannel admin =
        NettyChannelBuilder.forTarget(endpoints.getFirst()).usePlaintext().build();
    try (RingKvClient client = RingKvClient.builder().endpoints(endpoints).build()) {
      fill(client, bytes, valueBytes, fillInflight, seed);
      // The nodes flush and compact what the fill wrote for a while after it; a baseline taken
      // meanwhile would be slower than the cluster's steady state and flatter the move's cost.
      System.out.printf("rest: %d s without load before the baseline%n", restSeconds);
      TimeUnit.SECONDS.sleep(restSeconds);
      Window baseline = load(client, rate, valueBytes, seed, deadline(baselineSeconds));
      print("baseline (no move)", baseline);
      ClusterMap before = map(admin, clusterId);
      AtomicBoolean settled = new AtomicBoolean();
      long began = System.nanoTime();
      CompletableFuture<Window> during =
          CompletableFuture.supplyAsync(
              () -> load(client, rate, valueBytes, seed + 1, settled::get));
      AddNodeResponse added =
          ClusterGrpc.newBlockingStub(admin)
              .withDeadlineAfter(30, TimeUnit.SECONDS)
              .addNode(AddNodeRequest.newBuilder().setClientAddress(joinAddress).build());
      ClusterMap after = awaitSettled(admin, clusterId, added.getNodeId(), settleSecondsMax);
      double seconds = (System.nanoTime() - began) / 1e9;
      settled.set(true);
      print("during the move", during.get());
      // The same load once more on the settled cluster: a check on the baseline, since a
      // machine busy with something else would move both windows and not just the move's.
      Window afterwards = load(client, rate, valueBytes, seed + 2, deadline(baselineSeconds));
      print("after the move (settled, no move)", afterwards);
      report(before, after, added, bytes, seconds);
    } finally {
      admin.shutdownNow();
    }
  }

  private static void fill(RingKvClient client, long bytes, int valueBytes, int inflight, long seed)
      throws InterruptedException {
    long keys = Math.max(1, bytes / valueBytes);
    byte[] value = new byte[valueBytes];
    new SplittableRandom(seed).nextBytes(value);
    Semaphore slots = new Semaphore(inflight);
    AtomicLong errors = new AtomicLong();
    long began = System.nanoTime();
    for (long i = 0; i < keys; i++) {
      slots.acquire();
      client
          .put(("fill/" + i).getBytes(StandardCharsets.UTF_8), value)
          .whenComplete((result, failure) -> {
            if (failure != null && errors.getAndIncrement() == 0) {
              System.err.println("first fill failure: " + failure);
            }
            slots.release();
          });
    }
    slots.tryAcquire(inflight, DRAIN_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    double seconds = (System.nanoTime() - began) / 1e9;
    System.out.printf(
        "fill: %d keys x %d B = %.1f MB in %.1f s (%.1f MB/s), %d failed%n",
        keys,
        valueBytes,
        keys * valueBytes / 1e6,
        seconds,
        keys * valueBytes / 1e6 / seconds,
        errors.get());
  }

  private record Window(Histogram latencyMicros, long errors, double seconds) {}

  private static BooleanSupplier deadline(long seconds) {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    return () -> System.nanoTime() >= end;
  }

  /** Open-loop mix at {@code rate} until {@code done}; latency from the intended send time. */
  private static Window load(
      RingKvClient client, long rate, int valueBytes, long seed, BooleanSupplier done) {
    SplittableRandom random = new SplittableRandom(seed);
    byte[] value = new byte[Math.min(valueBytes, 1024)];
    random.nextBytes(value);
    Recorder recorder = new Recorder(3);
    AtomicLong errors = new AtomicLong();
    Semaphore slots = new Semaphore(LOAD_INFLIGHT_MAX);
    long interval = TimeUnit.SECONDS.toNanos(1) / rate;
    long start = System.nanoTime();
    long sent = 0;
    try {
      while (!done.getAsBoolean()) {
        long intended = start + sent * interval;
        long wait = intended - System.nanoTime();
        if (wait > 0) {
          TimeUnit.NANOSECONDS.sleep(wait); // pacing the open loop
        }
        slots.acquire();
        byte[] key = ("load/" + random.nextInt(LOAD_KEYS)).getBytes(StandardCharsets.UTF_8);
        CompletableFuture<?> call =
            random.nextBoolean()
                ? client.put(key, value)
                : client.get(key, Consistency.LINEARIZABLE);
        sent++;
        call.whenComplete((result, failure) -> {
          if (failure == null) {
            recorder.recordValue(Math.max(1, (System.nanoTime() - intended) / 1000));
          } else if (errors.getAndIncrement() == 0) {
            System.err.println("first load failure: " + failure);
          }
          slots.release();
        });
      }
      slots.tryAcquire(LOAD_INFLIGHT_MAX, DRAIN_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return new Window(
        recorder.getIntervalHistogram(), errors.get(), (System.nanoTime() - start) / 1e9);
  }

  private static void print(String name, Window window) {
    Histogram h = window.latencyMicros();
    System.out.printf(
        "%s: %d ops in %.1f s, p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms, %d errors%n",
        name,
        h.getTotalCount(),
        window.seconds(),
        h.getValueAtPercentile(50) / 1e3,
        h.getValueAtPercentile(99) / 1e3,
        h.getValueAtPercentile(99.9) / 1e3,
        h.getMaxValue() / 1e3,
        window.errors());
  }

  private static ClusterMap map(ManagedChannel channel, String clusterId) {
    return ReplicaAdminGrpc.newBlockingStub(channel)
        .withDeadlineAfter(5, TimeUnit.SECONDS)
        .getClusterMap(GetClusterMapRequest.newBuilder().setClusterId(clusterId).build())
        .getMap();
  }

  private static ClusterMap awaitSettled(
      ManagedChannel channel, String clusterId, long node, long secondsMax)
      throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(secondsMax);
    while (true) {
      try {
        ClusterMap map = map(channel, clusterId);
        boolean active =
            map.getMembersList().stream()
                .anyMatch(m -> m.getNodeId() == node && m.getState() == ClusterMember.State.ACTIVE);
        // A map records only started moves: right after AddNode it can hold none yet, so the
        // coordinator's plan for the current map must be empty too.
        if (active && map.getMovesCount() == 0 && nothingPlanned(channel, map.getEpoch())) {
          return map;
        }
      } catch (StatusRuntimeException e) {
        // the node is busy or restarting; ask again
      }
      if (System.nanoTime() > end) {
        throw new IllegalStateException("the join did not settle within " + secondsMax + " s");
      }
      Thread.sleep(MAP_POLL_MILLIS); // polling the map under a deadline
    }
  }

  private static boolean nothingPlanned(ManagedChannel channel, long epoch) {
    PlanResponse plan =
        ClusterGrpc.newBlockingStub(channel)
            .withDeadlineAfter(5, TimeUnit.SECONDS)
            .plan(PlanRequest.getDefaultInstance());
    // A plan of a newer map says nothing of this one: its moves may have started since.
    return plan.getMapEpoch() == epoch && plan.getMovesCount() == 0;
  }

  private static void report(
      ClusterMap before, ClusterMap after, AddNodeResponse added, long bytes, double seconds) {
    int moved = 0;
    for (int g = 0; g < after.getPartitionCount(); g++) {
      List<Long> old = before.getGroups(g).getVotersList();
      moved +=
          (int) after.getGroups(g).getVotersList().stream().filter(v -> !old.contains(v)).count();
    }
    int slots = after.getPartitionCount() * after.getReplicationFactor();
    long nodes =
        after.getMembersList().stream()
            .filter(m -> m.getState() == ClusterMember.State.ACTIVE)
            .count();
    long estimate = added.getMovesList().stream().mapToLong(PlannedMove::getBytesEstimate).sum();
    double shareBytes = (double) bytes * after.getReplicationFactor() / nodes;
    System.out.printf(
        "join of node %d: %.1f s from AddNode to a settled map (epoch %d -> %d)%n",
        added.getNodeId(), seconds, before.getEpoch(), after.getEpoch());
    System.out.printf(
        "slots moved: %d of %d (theory %.1f = slots / %d nodes); moves planned %d%n",
        moved, slots, (double) slots / nodes, nodes, added.getMovesCount());
    System.out.printf(
        "bytes moved (planner's estimate): %.1f MB; theoretical share %.1f MB (%.1f MB x RF %d /"
            + " %d nodes)%n",
        estimate / 1e6, shareBytes / 1e6, bytes / 1e6, after.getReplicationFactor(), nodes);
  }
}
