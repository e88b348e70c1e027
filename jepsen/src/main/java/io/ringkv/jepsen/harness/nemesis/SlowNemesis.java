package io.ringkv.jepsen.harness.nemesis;

import io.ringkv.jepsen.harness.cluster.LocalCluster;
import io.ringkv.jepsen.history.Keyword;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Makes one node slow rather than dead: SIGSTOP and SIGCONT in short bursts (paused {@link
 * #BURST_PAUSE_MILLIS}, running {@link #BURST_RUN_MILLIS}) for the whole fault, like a node starved
 * of CPU or stuck in GC. Each pause is below gossip's shortest suspicion timeout (4 s with the lan
 * preset), so gossip suspects and the node refutes, which raises its Lifeguard health score until
 * it counts itself slow and hands its leaderships away; it takes them back only after it has been
 * healthy for its recovery period. The start event records how many partitions the node led; the
 * stop event how many it leads and whether it says it is slow; a watcher then notes {@code
 * :slow-node-back} once it is no longer slow and leads as many partitions as at the start (or
 * {@code :slow-node-not-back} after {@link #BACK_WATCH_MILLIS_MAX}).
 */
final class SlowNemesis implements Nemesis {
  /**
   * Long enough that gossip suspects the node in most bursts (its refutations raise its health
   * score), short enough that no suspicion times out (real-process test: 3 s pauses never do).
   */
  static final long BURST_PAUSE_MILLIS = 2_500;

  static final long BURST_RUN_MILLIS = 500;

  /** Bursts in one fault at most, whatever its length. */
  static final int BURSTS_MAX = 1_000;

  static final long BACK_WATCH_MILLIS_MAX = 120_000;
  static final long BACK_POLL_MILLIS = 500;

  private final LocalCluster cluster;
  private final Supplier<OptionalInt> leader;
  private final SlowNodeWatch watch;
  private CountDownLatch stopBursts;
  private Thread bursts;
  private int target;
  private int leadsAtStart;

  SlowNemesis(LocalCluster cluster, Supplier<OptionalInt> leader, SlowNodeWatch watch) {
    this.cluster = cluster;
    this.leader = leader;
    this.watch = watch;
  }

  @Override
  public Keyword startF() {
    return Keyword.of("start-slow");
  }

  @Override
  public Keyword stopF() {
    return Keyword.of("stop-slow");
  }

  @Override
  public NemesisEvent start(Random random) {
    Map<Object, Object> value = new LinkedHashMap<>();
    if (random.nextBoolean()) {
      target = Nemeses.leaderOrRandom(cluster, leader, random, value);
    } else {
      List<Integer> members = Nemeses.nodeIds(cluster);
      target = members.get(random.nextInt(members.size()));
      value.put(Keyword.of("target"), Keyword.of("random"));
    }
    value.put(Keyword.of("nodes"), List.of((long) target));
    leadsAtStart = watch.leadsOf(target);
    value.put(Keyword.of("leads"), (long) leadsAtStart);
    stopBursts = new CountDownLatch(1);
    int node = target;
    CountDownLatch stop = stopBursts;
    bursts = Thread.ofPlatform().name("slow-nemesis").daemon().start(() -> burst(node, stop));
    return new NemesisEvent(startF(), value);
  }

  private void burst(int node, CountDownLatch stop) {
    try {
      for (int round = 0; round < BURSTS_MAX && stop.getCount() > 0; round++) {
        if (!cluster.isRunning(node)) {
          return;
        }
        cluster.pause(node);
        boolean stopped = stop.await(BURST_PAUSE_MILLIS, TimeUnit.MILLISECONDS); // fault rhythm
        cluster.resume(node);
        if (stopped || stop.await(BURST_RUN_MILLIS, TimeUnit.MILLISECONDS)) {
          return;
        }
      }
    } catch (Exception e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public NemesisEvent stop() throws Exception {
    if (bursts == null) {
      return new NemesisEvent(stopF(), Map.of(Keyword.of("nodes"), List.of()));
    }
    stopBursts.countDown();
    bursts.join(TimeUnit.SECONDS.toMillis(10));
    bursts = null;
    if (cluster.isRunning(target) && cluster.isPaused(target)) {
      cluster.resume(target);
    }
    int node = target;
    int wanted = Math.max(1, leadsAtStart);
    Map<Object, Object> value = new LinkedHashMap<>();
    value.put(Keyword.of("nodes"), List.of((long) node));
    value.put(Keyword.of("leads"), (long) watch.leadsOf(node));
    Boolean slow = watch.slowOf(node);
    value.put(Keyword.of("slow"), slow == null ? Keyword.of("unknown") : slow);
    Thread.ofPlatform().name("slow-nemesis-watch").daemon().start(() -> watchBack(node, wanted));
    return new NemesisEvent(stopF(), value);
  }

  /**
   * Notes when the healed node says it is no longer slow and leads as many partitions as when the
   * fault began ({@code wanted}, at least one).
   */
  private void watchBack(int node, int wanted) {
    long start = System.nanoTime();
    long deadline = start + TimeUnit.MILLISECONDS.toNanos(BACK_WATCH_MILLIS_MAX);
    boolean wasSlow = false;
    try {
      while (System.nanoTime() < deadline) {
        Boolean slow = watch.slowOf(node);
        wasSlow |= Boolean.TRUE.equals(slow);
        int leads = watch.leadsOf(node);
        if (Boolean.FALSE.equals(slow) && leads >= wanted) {
          watch.note(
              Keyword.of("slow-node-back"),
              Map.of(
                  Keyword.of("nodes"),
                  List.of((long) node),
                  Keyword.of("leads"),
                  (long) leads,
                  Keyword.of("was-slow-after-heal"),
                  wasSlow,
                  Keyword.of("after-heal-ms"),
                  TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)));
          return;
        }
        TimeUnit.MILLISECONDS.sleep(BACK_POLL_MILLIS); // polling interval of a bounded watch
      }
      watch.note(
          Keyword.of("slow-node-not-back"),
          Map.of(
              Keyword.of("nodes"),
              List.of((long) node),
              Keyword.of("watched-ms"),
              BACK_WATCH_MILLIS_MAX));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      // The run ended (history closed) before the node was back: nothing left to note.
    }
  }
}
