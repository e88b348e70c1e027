package io.ringkv.gossip;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * A deterministic simulation of a gossip cluster: one seed gives one run. Every member runs the
 * real {@link GossipCore}; the simulated network delivers datagrams a tick or two later, loses a
 * share of them, cuts directed links and partitions the cluster; members crash (and restart empty,
 * joining through seeds) and starved members pause for seconds at a time (a GC pause or a CPU
 * starved process: on resume the missed timer ticks run first, then the packets that waited).
 *
 * <p>Checks, applied to members that are neither starved nor cut off: every crashed member is
 * declared dead by every live member within {@link #detectionBoundTicks}; at the end every member
 * that is up is seen not dead by every other (alive, or at most suspect under loss; at 20 % loss a
 * false positive younger than two push-pull intervals may still be under repair); in runs without
 * starvation or partitions at loss of 5 % or less no healthy member is ever declared dead; and at 0
 * % loss no healthy member is even suspected (indirect probes route around cut links). A trace
 * digest of every delivery and event proves that a seed replays exactly.
 */
final class GossipSimulation {
  /** One run's shape; {@link #standard} varies it by seed. */
  record Options(
      int memberCount,
      double lossRate,
      double starvedFraction,
      int crashes,
      boolean recoverCrashed,
      boolean partition,
      int cutLinks,
      long runTicks,
      GossipSettings settings,
      GossipCore.UnsafeMode unsafeMode,
      boolean checks) {

    /** The same faults with other settings, unsafe mode, length or checking. */
    Options tuned(
        GossipSettings otherSettings, GossipCore.UnsafeMode mode, long ticks, boolean checking) {
      return new Options(
          memberCount,
          lossRate,
          starvedFraction,
          crashes,
          recoverCrashed,
          partition,
          cutLinks,
          ticks,
          otherSettings,
          mode,
          checking);
    }

    Options withUnsafe(GossipCore.UnsafeMode mode) {
      return tuned(settings, mode, runTicks, checks);
    }

    String describe() {
      return String.format(
          Locale.ROOT,
          "n=%d loss=%.0f%% starved=%.0f%% crashes=%d%s%s cutLinks=%d ticks=%d%s%s",
          memberCount,
          lossRate * 100,
          starvedFraction * 100,
          crashes,
          recoverCrashed ? "+recover" : "",
          partition ? " partition" : "",
          cutLinks,
          runTicks,
          settings.suspicionShrink() ? "" : " plainSwim",
          unsafeMode == GossipCore.UnsafeMode.NONE ? "" : " unsafe=" + unsafeMode);
    }
  }

  /** What one run measured, and the first broken check (null if none). */
  record Result(
      long seed,
      Options options,
      String failure,
      long traceDigest,
      List<Long> detectionTicks,
      long healthyFalsePositives,
      long starvedFalsePositives,
      double memberHours,
      long suspicionsOfHealthy) {
    boolean failed() {
      return failure != null;
    }
  }

  private static final int LATENCY_EXTRA_TICKS_MAX = 1;
  private static final int DELAY_SLOTS = 4;
  private static final int PAUSE_TICKS_MIN = 20;
  private static final int PAUSE_TICKS_MAX = 120;
  private static final int RUN_TICKS_MIN = 20;
  private static final int RUN_TICKS_MAX = 200;
  private static final int SEEDS_TO_JOIN = 3;

  private final long seed;
  private final Options options;
  private final GossipSettings settings;
  private final SplittableRandom random;
  private final int n;
  private final String[] ids;
  private final GossipCore[] cores;
  private final boolean[] up;
  private final boolean[] starved;
  private final long[] pausedUntil;
  private final long[] missedTicks;
  private final List<List<Packet>> backlog = new ArrayList<>();
  private final long[] crashTick;
  private final long[] upSinceTick;
  private final int[] side;
  private final boolean[][] cut;
  private final long[][] declaredDeadAt;
  private final long[][] lastDeadEventAt;
  private final List<List<Packet>> delaySlots = new ArrayList<>();
  private final List<Long> detectionTicks = new ArrayList<>();
  private boolean partitioned;
  private long now;
  private long digest = 1125899906842597L;
  private long healthyFalsePositives;
  private long starvedFalsePositives;
  private long suspicionsOfHealthy;
  private double memberTicks;
  private String failure;

  GossipSimulation(long seed, Options options) {
    this.seed = seed;
    this.options = options;
    this.settings = options.settings();
    this.random = new SplittableRandom(seed);
    this.n = options.memberCount();
    ids = new String[n];
    cores = new GossipCore[n];
    up = new boolean[n];
    starved = new boolean[n];
    pausedUntil = new long[n];
    missedTicks = new long[n];
    crashTick = new long[n];
    upSinceTick = new long[n];
    side = new int[n];
    cut = new boolean[n][];
    declaredDeadAt = new long[n][];
    lastDeadEventAt = new long[n][];
    for (int slot = 0; slot < DELAY_SLOTS; slot++) {
      delaySlots.add(new ArrayList<>());
    }
    int starvedCount = (int) Math.round(options.starvedFraction() * n);
    for (int index = 0; index < n; index++) {
      ids[index] = "m" + index;
      backlog.add(new ArrayList<>());
      // The last members are the starved ones; crashes pick among the others.
      starved[index] = index >= n - starvedCount;
      cut[index] = new boolean[0];
      declaredDeadAt[index] = new long[n];
      lastDeadEventAt[index] = new long[n];
      Arrays.fill(declaredDeadAt[index], -1);
    }
    for (int link = 0; link < options.cutLinks(); link++) {
      int from = random.nextInt(n);
      int to = random.nextInt(n);
      if (from != to) {
        if (cut[from].length == 0) {
          cut[from] = new boolean[n];
        }
        cut[from][to] = true;
      }
    }
  }

  static Result run(long seed, Options options) {
    return new GossipSimulation(seed, options).run();
  }

  /** Options for a seed of the ordinary test range: sizes, loss and faults vary with the seed. */
  static Options standard(long seed) {
    int[] sizes = {5, 50, 5, 50};
    double[] losses = {0.0, 0.05, 0.20};
    int size = sizes[(int) Math.floorMod(seed, sizes.length)];
    double loss = losses[(int) Math.floorMod(seed / 4, losses.length)];
    // Flavours: cut links only; crashes and restarts; a partition that heals; starved members.
    int flavour = (int) Math.floorMod(seed / 12, 4);
    return new Options(
        size,
        loss,
        flavour == 3 ? 0.10 : 0.0,
        flavour == 1 || flavour == 3 ? Math.max(1, size / 10) : 0,
        flavour == 1,
        flavour == 2,
        flavour == 0 ? size / 5 + 1 : 0,
        4_000,
        GossipSettings.lan(),
        GossipCore.UnsafeMode.NONE,
        true);
  }

  long detectionBoundTicks() {
    // SWIM finds a crashed member in about 1.58 protocol periods: allow twice that, then the
    // longest suspicion timeout, then a few periods for the verdict to reach everyone.
    int periods = settings.probeIntervalTicks();
    return (long) Math.ceil(2 * 1.58 * periods) + settings.suspicionMaxTicks(n) + 4L * periods;
  }

  private long settleTicks() {
    return 2L * settings.pushPullIntervalTicks() + settings.suspicionMaxTicks(n);
  }

  Result run() {
    for (int index = 0; index < n; index++) {
      List<String> seeds = new ArrayList<>(List.of(ids[0], ids[1 % n], ids[2 % n]));
      seeds.remove(ids[index]);
      start(index, seeds);
    }
    long warmup = 10L * settings.probeIntervalTicks();
    long faultsEnd = Math.max(warmup + 1, options.runTicks() - settleTicks());
    long[] crashAt = scheduleCrashes(warmup, faultsEnd);
    long partitionStart = warmup + random.nextLong(Math.max(1, (faultsEnd - warmup) / 4));
    long partitionEnd = Math.min(faultsEnd, partitionStart + 2 * settings.suspicionMaxTicks(n));
    for (now = 1; now <= options.runTicks() && failure == null; now++) {
      if (options.partition()) {
        if (now == partitionStart) {
          split();
        } else if (now == partitionEnd) {
          partitioned = false;
        }
      }
      applyCrashes(crashAt, faultsEnd);
      deliver();
      tickMembers(now < faultsEnd);
      checkDetection();
    }
    if (failure == null) {
      checkFinalViews();
    }
    return new Result(
        seed,
        options,
        failure,
        digest,
        detectionTicks,
        healthyFalsePositives,
        starvedFalsePositives,
        memberTicks * settings.tickMillis() / 3_600_000.0,
        suspicionsOfHealthy);
  }

  private long[] scheduleCrashes(long warmup, long faultsEnd) {
    long[] crashAt = new long[n];
    Arrays.fill(crashAt, -1);
    int candidates = n - (int) Math.round(options.starvedFraction() * n);
    // Crashes leave time for detection before the settle phase, and never take member 0 (the seed).
    long latest = Math.max(warmup + 1, faultsEnd - detectionBoundTicks());
    for (int crash = 0; crash < options.crashes() && candidates > 1; crash++) {
      int victim = 1 + random.nextInt(candidates - 1);
      crashAt[victim] = warmup + random.nextLong(Math.max(1, latest - warmup));
    }
    return crashAt;
  }

  private void applyCrashes(long[] crashAt, long faultsEnd) {
    for (int index = 0; index < n; index++) {
      if (crashAt[index] == now) {
        up[index] = false;
        crashTick[index] = now;
        backlog.get(index).clear();
        trace(index, -1, 90, now);
      } else if (options.recoverCrashed()
          && !up[index]
          && crashAt[index] >= 0
          && now == crashAt[index] + detectionBoundTicks()
          && now < faultsEnd) {
        List<String> seeds = new ArrayList<>();
        for (int draw = 0; draw < 4 * SEEDS_TO_JOIN && seeds.size() < SEEDS_TO_JOIN; draw++) {
          int other = random.nextInt(n);
          if (up[other] && other != index && !seeds.contains(ids[other])) {
            seeds.add(ids[other]);
          }
        }
        start(index, seeds);
        trace(index, -1, 91, now);
      }
    }
  }

  private void start(int index, List<String> seeds) {
    GossipCore core = new GossipCore(ids[index], ids[index], settings, random.split());
    core.setUnsafeMode(options.unsafeMode());
    cores[index] = core;
    up[index] = true;
    upSinceTick[index] = now;
    for (int observer = 0; observer < n; observer++) {
      declaredDeadAt[observer][index] = -1;
    }
    Arrays.fill(declaredDeadAt[index], -1);
    core.join(seeds);
    collect(index);
  }

  private void split() {
    partitioned = true;
    int minority = 1 + random.nextInt(Math.max(1, n / 2));
    for (int index = 0; index < n; index++) {
      side[index] = 0;
    }
    for (int chosen = 0; chosen < minority; chosen++) {
      side[random.nextInt(n)] = 1;
    }
    trace(minority, -1, 92, now);
  }

  private void deliver() {
    List<Packet> due = delaySlots.get((int) (now % DELAY_SLOTS));
    List<Packet> delivering = new ArrayList<>(due);
    due.clear();
    for (Packet packet : delivering) {
      int to = indexOf(packet.toAddress());
      if (!up[to]) {
        continue;
      }
      if (pausedUntil[to] > now) {
        backlog.get(to).add(packet);
        continue;
      }
      receive(to, packet);
    }
  }

  private void receive(int to, Packet packet) {
    trace(indexOf(packet.fromId()), to, kind(packet.message()), sequence(packet.message()));
    cores[to].receive(packet);
    collect(to);
  }

  private void tickMembers(boolean faultsOn) {
    for (int index = 0; index < n; index++) {
      if (!up[index]) {
        continue;
      }
      memberTicks++;
      if (pausedUntil[index] > now) {
        missedTicks[index]++;
        continue;
      }
      if (missedTicks[index] > 0) {
        // A paused process wakes: its overdue timers fire before it reads what waited.
        for (long missed = 0; missed < missedTicks[index]; missed++) {
          cores[index].tick();
          collect(index);
        }
        missedTicks[index] = 0;
        List<Packet> waiting = new ArrayList<>(backlog.get(index));
        backlog.get(index).clear();
        for (Packet packet : waiting) {
          receive(index, packet);
        }
      }
      cores[index].tick();
      collect(index);
      if (starved[index] && faultsOn && pausedUntil[index] <= now) {
        long runTicks = RUN_TICKS_MIN + random.nextInt(RUN_TICKS_MAX - RUN_TICKS_MIN);
        if (random.nextInt((int) runTicks) == 0) {
          pausedUntil[index] =
              now + PAUSE_TICKS_MIN + random.nextInt(PAUSE_TICKS_MAX - PAUSE_TICKS_MIN);
        }
      }
    }
  }

  private void collect(int from) {
    for (Packet packet : cores[from].drainOutgoing()) {
      int to = indexOf(packet.toAddress());
      boolean lost =
          (partitioned && side[from] != side[to])
              || (cut[from].length > 0 && cut[from][to])
              || (!packet.message().reliable() && random.nextDouble() < options.lossRate());
      if (!packet.message().reliable()) {
        checkDatagramBound(packet);
      }
      if (lost) {
        continue;
      }
      int delay =
          1 + (packet.message().reliable() ? 0 : random.nextInt(LATENCY_EXTRA_TICKS_MAX + 1));
      delaySlots.get((int) ((now + delay) % DELAY_SLOTS)).add(packet);
    }
    for (MemberEvent event : cores[from].drainEvents()) {
      onEvent(from, event);
    }
  }

  private void checkDatagramBound(Packet packet) {
    int bytes = WireLimits.HEADER_BYTES_MAX;
    for (Update update : packet.message().updates()) {
      bytes += WireLimits.updateBytesBound(update);
    }
    if (bytes > WireLimits.PACKET_BYTES_MAX) {
      fail("datagram of " + bytes + " bytes from " + packet.fromId());
    }
  }

  private void onEvent(int observer, MemberEvent event) {
    int subject = indexOf(event.memberId());
    trace(observer, subject, 100 + event.kind().ordinal(), event.incarnation());
    if (event.memberId().equals(System.getProperty("gossip.watch"))) {
      System.out.println(
          "[seed "
              + seed
              + "] tick "
              + now
              + " "
              + ids[observer]
              + ": "
              + event
              + " up="
              + up[subject]);
    }
    boolean healthy =
        up[subject]
            && !starved[subject]
            && !partitioned
            && now - upSinceTick[subject] > detectionBoundTicks();
    switch (event.kind()) {
      case DECLARED_DEAD -> {
        lastDeadEventAt[observer][subject] = now;
        if (declaredDeadAt[observer][subject] < 0 && !up[subject]) {
          declaredDeadAt[observer][subject] = now;
          detectionTicks.add(now - crashTick[subject]);
        }
        if (up[subject] && !partitioned && now - upSinceTick[subject] > detectionBoundTicks()) {
          if (starved[subject]) {
            starvedFalsePositives++;
          } else {
            healthyFalsePositives++;
            if (checksFalsePositives()) {
              fail(
                  ids[observer]
                      + " declared healthy "
                      + ids[subject]
                      + " dead; its health "
                      + cores[subject].localHealthScore()
                      + ", incarnation "
                      + cores[subject].incarnation()
                      + ", "
                      + cores[subject].counters());
            }
          }
        }
      }
      case SUSPECTED -> {
        if (healthy && !starved[observer]) {
          suspicionsOfHealthy++;
          if (options.lossRate() == 0
              && options.starvedFraction() == 0
              && !options.partition()
              && options.crashes() == 0) {
            fail(ids[observer] + " suspected healthy " + ids[subject] + " at 0 % loss");
          }
        }
      }
      default -> {}
    }
  }

  private boolean checksFalsePositives() {
    return options.lossRate() <= 0.05 && options.starvedFraction() == 0 && !options.partition();
  }

  private void checkDetection() {
    if (now % settings.probeIntervalTicks() != 0) {
      return;
    }
    long bound = detectionBoundTicks();
    for (int subject = 0; subject < n; subject++) {
      if (up[subject] || now - crashTick[subject] < bound) {
        continue;
      }
      for (int observer = 0; observer < n; observer++) {
        if (observer == subject || !watches(observer)) {
          continue;
        }
        MemberState state = cores[observer].stateOf(ids[subject]);
        if (state == MemberState.ALIVE || state == MemberState.SUSPECT) {
          fail(
              ids[observer]
                  + " still sees crashed "
                  + ids[subject]
                  + " "
                  + state
                  + " "
                  + (now - crashTick[subject])
                  + " ticks after the crash (bound "
                  + bound
                  + ")");
          return;
        }
      }
    }
  }

  /** Whether {@code observer} is held to the detection bound: up long enough, not starved. */
  private boolean watches(int observer) {
    return up[observer]
        && !starved[observer]
        && now - upSinceTick[observer] > detectionBoundTicks();
  }

  private void checkFinalViews() {
    for (int observer = 0; observer < n && failure == null; observer++) {
      if (!up[observer] || starved[observer]) {
        continue;
      }
      for (int subject = 0; subject < n; subject++) {
        if (subject == observer) {
          continue;
        }
        MemberState state = cores[observer].stateOf(ids[subject]);
        // Under loss a late false positive may still be on its way to being repaired: allow a dead
        // verdict younger than two push-pull intervals, and no older.
        boolean repairing =
            options.lossRate() > 0.05
                && state == MemberState.DEAD
                && now - lastDeadEventAt[observer][subject] < 2L * settings.pushPullIntervalTicks();
        boolean fine =
            repairing
                || (up[subject]
                    ? state == MemberState.ALIVE
                        || (state == MemberState.SUSPECT
                            && (options.lossRate() > 0 || starved[subject]))
                    : state == MemberState.DEAD || state == null);
        if (!fine) {
          fail(
              "at the end "
                  + ids[observer]
                  + " sees "
                  + (up[subject] ? "live " : "crashed ")
                  + ids[subject]
                  + " as "
                  + state);
          return;
        }
      }
    }
  }

  private void fail(String message) {
    if (failure == null && options.checks()) {
      failure = "tick " + now + ": " + message;
    }
  }

  private void trace(int from, int to, int kind, long value) {
    long mixed = ((long) from * 1_000_003L + to) * 31 + kind;
    digest = (digest ^ mixed) * 0x100000001b3L + value * 0x9E3779B97F4A7C15L + now;
  }

  private static int kind(Message message) {
    return switch (message) {
      case Message.Ping ping -> 1;
      case Message.Ack ack -> 2;
      case Message.Nack nack -> 3;
      case Message.PingRequest request -> 4;
      case Message.Gossip gossip -> 5;
      case Message.PushPull pushPull -> 6;
    };
  }

  private static long sequence(Message message) {
    return switch (message) {
      case Message.Ping ping -> ping.sequence();
      case Message.Ack ack -> ack.sequence();
      case Message.Nack nack -> nack.sequence();
      case Message.PingRequest request -> request.sequence();
      case Message.Gossip gossip -> gossip.updates().size();
      case Message.PushPull pushPull -> pushPull.updates().size();
    };
  }

  private static int indexOf(String id) {
    return Integer.parseInt(id, 1, id.length(), 10);
  }
}
