package io.ringkv.raft;

import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * A deterministic simulation of one Raft group: one seed gives one run. Members run the real core
 * behind {@link TestMember}'s application loop on a {@link SimulatedNetwork}; a fault phase injects
 * crashes (also in the middle of a Ready), restarts, partitions (isolated member, isolated leader,
 * halves, one-way links), loss, duplication, reordering, membership changes and leader transfers
 * while clients write and read a register. A liveness phase then heals everything and requires a
 * new write to commit within a bound.
 *
 * <p>After every event the checkers assert: at most one leader per term; log matching (an entry
 * identified by index and term always has the same data and the same predecessor term); leader
 * completeness (a leader holds every entry committed in an earlier term); state machine safety (no
 * two members apply different entries at one index); committed entries never change; and
 * linearizable reads (read index at least the global commit index when the read was issued, and the
 * value returned is the last committed write at or below the index served).
 *
 * <p>A read is served as soon as the member has applied its read index: right after applying the
 * entry at that index when the ReadState arrives first (then the index served equals the read
 * index), otherwise at the member's applied index, which is later; both are linearizable, and the
 * check always compares with the last committed write at or below the index actually served.
 */
final class Simulation implements TestMember.ApplyListener {

  /** A broken safety property. */
  static final class SafetyViolation extends RuntimeException {
    SafetyViolation(String message) {
      super(message);
    }
  }

  /** The cluster did not make progress after faults stopped. */
  static final class LivenessViolation extends RuntimeException {
    LivenessViolation(String message) {
      super(message);
    }
  }

  record Options(
      int voterCount,
      Set<UnsafeTestingMode> unsafeModes,
      int faultTicks,
      int livenessBoundTicks,
      boolean trace,
      boolean pipelinedWrites,
      boolean leaseReadsForced,
      int tickDriftPercentMax) {
    /**
     * Half the seeds (two of every four, so with 3 and with 5 voters) run pipelined writes. Seeds
     * that draw lease reads run members whose ticks drift up to the bound the core assumes.
     */
    static Options standard(long seed) {
      return new Options(
          seed % 2 == 0 ? 3 : 5,
          EnumSet.noneOf(UnsafeTestingMode.class),
          1500,
          400,
          Boolean.getBoolean("sim.trace"),
          Math.floorMod(seed, 4) >= 2,
          false,
          Raft.LEASE_TICK_DRIFT_PERCENT_MAX);
    }

    /** A broken core, with writes handled in place (the detection bounds were measured so). */
    Options withUnsafe(UnsafeTestingMode mode) {
      return new Options(
          voterCount,
          EnumSet.of(mode),
          faultTicks,
          livenessBoundTicks,
          trace,
          false,
          leaseReadsForced,
          tickDriftPercentMax);
    }

    /**
     * Every seed serves reads from leases (CheckQuorum on), ticks drifting up to the given bound.
     */
    Options withLeaseReads(int driftPercentMax) {
      return new Options(
          voterCount,
          unsafeModes,
          faultTicks,
          livenessBoundTicks,
          trace,
          pipelinedWrites,
          true,
          driftPercentMax);
    }
  }

  /** The outcome of one run; {@code failure} is null when every check held. */
  record Result(long seed, RuntimeException failure, long ticks, long traceDigest, String stats) {
    boolean failed() {
      return failure != null;
    }
  }

  record CommittedEntry(long term, EntryType type, byte[] data, long commitTerm) {}

  record EntryId(long index, long term) {}

  record EntryFingerprint(int dataHash, long previousTerm) {}

  record PendingRead(long memberId, long minimumIndex, long issuedTick) {}

  private static final int ELECTION_TIMEOUT_TICKS = 10;
  private static final int HEARTBEAT_TIMEOUT_TICKS = 2;
  private static final int TRACE_TAIL_LINES = 60;
  private static final int READ_TIMEOUT_TICKS = 200;
  private static final int MARKER_RETRY_TICKS = 60;
  private static final long DRIFT_SEED_SALT = 0x6c65617365L;
  private static final int TICK_RATE_REDRAW_TICKS = 40;

  private final long seed;
  private final Options options;
  private final SplittableRandom random;
  private final SimulatedNetwork network;
  private final TreeMap<Long, TestMember> members = new TreeMap<>();
  private long now;
  private long nextOperationId = 1;

  // Oracle state.
  private final TreeMap<Long, CommittedEntry> committed = new TreeMap<>();
  private final Map<Long, Long> leaderByTerm = new HashMap<>();
  private final Map<EntryId, EntryFingerprint> fingerprints = new HashMap<>();
  private final Map<Long, Long> checkedCommitByMember = new HashMap<>();
  private final Map<ByteBuffer, PendingRead> pendingReads = new HashMap<>();
  private final Map<Long, Long> pendingWrites = new HashMap<>();

  /**
   * Clock drift, only in lease mode: a member ticks {@code tickRatePercent / 100} times per
   * simulated tick on average, carrying the remainder in its credit. Drawn from a random source of
   * its own so that seeds without leases replay as they did before drift existed.
   */
  private final Map<Long, Integer> tickRatePercentByMember = new HashMap<>();

  private final Map<Long, Integer> tickCreditPercentByMember = new HashMap<>();

  /** Null unless lease reads are on. */
  private final SplittableRandom driftRandom;

  private final int crashPerTenThousandTicks;
  private final int restartPerTenThousandTicks;
  private final int crashInReadyPerThousand;
  private final int rebootPerTenThousandTicks;
  private final int criticalCrashPerThousand;
  private long markerValue;
  private long markerProposedTick;
  private long readsServed;
  private long writesAcknowledged;
  private long crashes;
  private long confChangesProposed;
  private long transfersRequested;

  private final ArrayDeque<String> traceTail = new ArrayDeque<>();
  private long traceDigest = 1125899906842597L;

  Simulation(long seed, Options options) {
    this.seed = seed;
    this.options = options;
    this.random = new SplittableRandom(seed);
    this.network = new SimulatedNetwork(random.nextLong());
    this.crashPerTenThousandTicks = new int[] {20, 40, 150}[random.nextInt(3)];
    this.restartPerTenThousandTicks = new int[] {300, 3000}[random.nextInt(2)];
    this.crashInReadyPerThousand = new int[] {0, 2, 10}[random.nextInt(3)];
    this.rebootPerTenThousandTicks = new int[] {0, 30, 200}[random.nextInt(3)];
    this.criticalCrashPerThousand = new int[] {0, 50, 200}[random.nextInt(3)];
    long maxSizeBytesPerAppend = new long[] {1, 200, 4096}[random.nextInt(3)];
    // Per group, as deployments configure all members alike (a member without PreVote that keeps
    // bumping terms can starve members with PreVote).
    boolean preVote = random.nextBoolean();
    boolean checkQuorum = random.nextBoolean();
    Config.ReadOnlyMode readOnlyMode =
        checkQuorum && random.nextBoolean()
            ? Config.ReadOnlyMode.LEASE_BASED
            : Config.ReadOnlyMode.SAFE;
    if (options.leaseReadsForced()) {
      checkQuorum = true;
      readOnlyMode = Config.ReadOnlyMode.LEASE_BASED;
    }
    Set<Long> voters = new TreeSet<>();
    for (long id = 1; id <= options.voterCount(); id++) {
      voters.add(id);
    }
    ConfState initial = ConfState.ofVoters(voters);
    // One spare member outside the configuration, for membership changes.
    for (long id = 1; id <= options.voterCount() + 1; id++) {
      MemoryRaftStorage storage =
          voters.contains(id)
              ? TestMember.bootstrapStorage(initial)
              : new MemoryRaftStorage(ConfState.EMPTY);
      Config.Builder config =
          Config.builder(id)
              .readOnlyMode(readOnlyMode)
              .electionTimeoutTicks(ELECTION_TIMEOUT_TICKS)
              .heartbeatTimeoutTicks(HEARTBEAT_TIMEOUT_TICKS)
              .maxSizeBytesPerAppend(maxSizeBytesPerAppend)
              .maxInflightMessages(4)
              .preVote(preVote)
              .checkQuorum(checkQuorum);
      if (!options.unsafeModes().isEmpty()) {
        config.allowUnsafeTestingModes();
        options.unsafeModes().forEach(config::unsafeTestingMode);
      }
      TestMember member = new TestMember(id, config.build(), storage, random.nextLong());
      member.snapshotEveryEntries = 20 + random.nextInt(40);
      member.pipelined = options.pipelinedWrites();
      members.put(id, member);
      committedCheckFrom(member);
    }
    driftRandom =
        readOnlyMode == Config.ReadOnlyMode.LEASE_BASED
            ? new SplittableRandom(seed ^ DRIFT_SEED_SALT)
            : null;
    if (driftRandom != null) {
      drawTickRates();
    }
  }

  /**
   * Rates between 100 and 100 + the drift bound percent, so that the fastest member ticks at most
   * that much faster than the slowest; one member runs at each end of the range, the others
   * anywhere in it, and every credit starts at a random phase. Fast members win elections, so rates
   * are drawn again every {@link #TICK_RATE_REDRAW_TICKS}, and half of the time the leader becomes
   * the slowest: a slow leader with fast followers is what a lease must survive.
   */
  private void drawTickRates() {
    int driftPercentMax = options.tickDriftPercentMax();
    List<Long> ids = new ArrayList<>(members.keySet());
    long leader = currentLeader();
    long slowest =
        leader != 0 && driftRandom.nextBoolean()
            ? leader
            : ids.get(driftRandom.nextInt(ids.size()));
    long fastest = ids.get(driftRandom.nextInt(ids.size()));
    for (long id : ids) {
      int ratePercent = 100 + driftRandom.nextInt(driftPercentMax + 1);
      if (id == fastest) {
        ratePercent = 100 + driftPercentMax;
      } else if (id == slowest) {
        ratePercent = 100;
      }
      tickRatePercentByMember.put(id, ratePercent);
      tickCreditPercentByMember.put(id, driftRandom.nextInt(100));
    }
  }

  static Result run(long seed, Options options) {
    return new Simulation(seed, options).run();
  }

  Result run() {
    RuntimeException failure = null;
    try {
      runPhases();
    } catch (SafetyViolation | LivenessViolation | Invariants.InvariantViolation e) {
      failure = e;
    } catch (RuntimeException e) {
      failure = new SafetyViolation("unexpected exception: " + e);
      failure.initCause(e);
    }
    if (failure != null && !options.trace()) {
      StringBuilder tail = new StringBuilder();
      traceTail.forEach(line -> tail.append("\n  ").append(line));
      failure.addSuppressed(new RuntimeException("last events:" + tail));
    }
    String stats =
        String.format(
            "ticks=%d committed=%d writesAcked=%d readsServed=%d crashes=%d confChanges=%d"
                + " transfers=%d dropped=%d leaseReads=%d",
            now,
            committed.isEmpty() ? 0 : committed.lastKey(),
            writesAcknowledged,
            readsServed,
            crashes,
            confChangesProposed,
            transfersRequested,
            network.droppedCount,
            members.values().stream().mapToLong(TestMember::leaseReadCount).sum());
    return new Result(seed, failure, now, traceDigest, stats);
  }

  private void runPhases() {
    configureNetwork();
    for (now = 0; now < options.faultTicks(); now++) {
      injectFaults();
      issueClientOperations();
      advanceOneTick();
    }
    healEverything();
    long deadline = now + options.livenessBoundTicks();
    for (; now < deadline; now++) {
      issueClientOperations();
      proposeMarkerAtLeader();
      advanceOneTick();
      if (markerCommitted()) {
        trace("liveness: marker " + markerValue + " committed");
        return;
      }
    }
    throw new LivenessViolation(
        "no write committed within "
            + options.livenessBoundTicks()
            + " ticks after faults stopped; roles="
            + roles());
  }

  // ---------------------------------------------------------------- time and delivery

  private void advanceOneTick() {
    if (driftRandom != null && now % TICK_RATE_REDRAW_TICKS == 0) {
      drawTickRates();
    }
    for (TestMember member : members.values()) {
      int ticks = ticksThisStep(member.id);
      for (int i = 0; i < ticks && member.alive; i++) {
        member.node.tick();
        observe(member);
      }
    }
    for (int round = 0; round < 4; round++) {
      Message message;
      boolean delivered = false;
      while ((message = network.poll(now)) != null) {
        deliver(message);
        delivered = true;
      }
      reportLostSnapshots();
      boolean handled = handleReadies();
      if (!delivered && !handled) {
        break;
      }
    }
    expireClientOperations();
  }

  /** One tick per simulated tick without drift; with drift, as the member's rate accumulates. */
  private int ticksThisStep(long memberId) {
    Integer ratePercent = tickRatePercentByMember.get(memberId);
    if (ratePercent == null) {
      return 1;
    }
    int credit = tickCreditPercentByMember.get(memberId) + ratePercent;
    tickCreditPercentByMember.put(memberId, credit % 100);
    return credit / 100;
  }

  private void deliver(Message message) {
    TestMember target = members.get(message.to());
    if (target == null || !target.alive) {
      if (message.type() == MessageType.SNAPSHOT) {
        network.lostSnapshots.add(message);
      }
      reportLostSnapshots();
      return;
    }
    reportLostSnapshots();
    traceDigest =
        ((traceDigest * 31 + message.type().ordinal()) * 31 + message.from() * 7 + message.to())
                * 31
            + message.term() * 13
            + message.index() * 17
            + message.commit();
    if (options.trace()) {
      trace("deliver " + message);
    }
    target.node.step(message);
    observe(target);
    if (message.type() == MessageType.SNAPSHOT) {
      TestMember sender = members.get(message.from());
      if (sender.alive) {
        sender.node.reportSnapshot(message.to(), true);
      }
    }
  }

  /**
   * A snapshot that never arrived is reported as failed to its sender, as the node's transfer does;
   * otherwise the sender would wait for it forever.
   */
  private void reportLostSnapshots() {
    for (Message lost : network.lostSnapshots) {
      TestMember sender = members.get(lost.from());
      if (sender != null && sender.alive) {
        sender.node.reportSnapshot(lost.to(), false);
      }
    }
    network.lostSnapshots.clear();
  }

  private boolean handleReadies() {
    boolean any = false;
    for (TestMember member : members.values()) {
      for (int i = 0; i < 3 && member.alive; i++) {
        TestMember.CrashPoint[] crashPoint = {TestMember.CrashPoint.NONE};
        List<Long> failedSnapshots = new ArrayList<>();
        boolean handled =
            member.handleReady(
                message -> {
                  if (!network.send(message, now) && message.type() == MessageType.SNAPSHOT) {
                    failedSnapshots.add(message.to());
                  }
                },
                this,
                ready -> crashPoint[0] = chooseCrashPoint(member, ready));
        if (!handled) {
          break;
        }
        any = true;
        if (crashPoint[0] != TestMember.CrashPoint.NONE) {
          crashes++;
          trace("crash " + member.id + " in a Ready at " + crashPoint[0]);
          if (random.nextBoolean()) {
            restart(member); // a process restart: back at once with what it persisted
          }
          break;
        }
        failedSnapshots.forEach(to -> member.node.reportSnapshot(to, false));
        observe(member);
      }
    }
    return any;
  }

  /**
   * Crashes strike at random points, and more often at critical moments: right after a member
   * granted a vote, and when a leader appends entries or advances its commit index (faults aimed
   * where protocol bugs hide).
   */
  private TestMember.CrashPoint chooseCrashPoint(TestMember member, Ready ready) {
    if (!inFaultPhase()) {
      return TestMember.CrashPoint.NONE;
    }
    int perThousand = crashInReadyPerThousand;
    if (criticalMoment(member, ready)) {
      perThousand = Math.max(perThousand, criticalCrashPerThousand);
    }
    if (random.nextInt(1000) >= perThousand) {
      return TestMember.CrashPoint.NONE;
    }
    return random.nextBoolean()
        ? TestMember.CrashPoint.BEFORE_PERSIST
        : TestMember.CrashPoint.AFTER_SEND;
  }

  private static boolean criticalMoment(TestMember member, Ready ready) {
    for (Message message : ready.persistedMessages()) {
      if (message.type() == MessageType.VOTE_RESPONSE && !message.reject()) {
        return true;
      }
    }
    if (member.node.status().role() != Role.LEADER) {
      return false;
    }
    boolean committing =
        ready.hardState().isPresent()
            && ready.hardState().get().commit() > member.storage.hardState().commit();
    return committing || !ready.entries().isEmpty();
  }

  private boolean inFaultPhase() {
    return now < options.faultTicks();
  }

  // ---------------------------------------------------------------- faults

  private void configureNetwork() {
    network.dropProbability = 0.0;
    network.duplicateProbability = 0.02;
    network.maxDelayTicks = 2;
  }

  private void injectFaults() {
    // Independent rolls per fault kind, with per-seed rates (swarm testing: some seeds crash
    // often and restart fast, others mostly partition).
    if (random.nextInt(10_000) < crashPerTenThousandTicks) {
      crashRandomMember();
    }
    if (random.nextInt(10_000) < restartPerTenThousandTicks) {
      restartRandomMember();
    }
    if (random.nextInt(10_000) < rebootPerTenThousandTicks) {
      rebootRandomMember();
    }
    int roll = random.nextInt(10_000);
    if (roll < 60) {
      partition();
    } else if (roll < 220) {
      if (network.anyCut()) {
        trace("heal network");
      }
      network.healAll();
    } else if (roll < 260) {
      network.dropProbability = new double[] {0.0, 0.02, 0.1, 0.3}[random.nextInt(4)];
      network.duplicateProbability = new double[] {0.0, 0.05}[random.nextInt(2)];
      network.maxDelayTicks = new int[] {0, 2, 5}[random.nextInt(3)];
      trace(
          "network drop="
              + network.dropProbability
              + " dup="
              + network.duplicateProbability
              + " delay<="
              + network.maxDelayTicks);
    } else if (roll < 300) {
      proposeMembershipChange();
    } else if (roll < 330) {
      requestLeaderTransfer();
    }
  }

  private void crashRandomMember() {
    List<TestMember> alive = aliveMembers();
    if (members.size() - alive.size() >= 2 || alive.isEmpty()) {
      return;
    }
    TestMember victim = pickVictim(alive);
    victim.crash();
    crashes++;
    trace("crash " + victim.id);
  }

  private void restartRandomMember() {
    List<TestMember> dead = new ArrayList<>();
    members.values().stream().filter(member -> !member.alive).forEach(dead::add);
    if (dead.isEmpty()) {
      return;
    }
    restart(dead.get(random.nextInt(dead.size())));
  }

  /** Half of the time the leader (faults aimed at the leader find the most bugs). */
  private TestMember pickVictim(List<TestMember> alive) {
    TestMember leader = members.get(currentLeader());
    if (leader != null && random.nextBoolean()) {
      return leader;
    }
    return alive.get(random.nextInt(alive.size()));
  }

  /** A process restart: the member loses what it did not persist; messages in flight survive. */
  private void rebootRandomMember() {
    List<TestMember> alive = aliveMembers();
    if (alive.isEmpty()) {
      return;
    }
    TestMember victim = pickVictim(alive);
    victim.crash();
    crashes++;
    trace("reboot " + victim.id);
    restart(victim);
  }

  private void restart(TestMember member) {
    member.restart();
    trace("restart " + member.id + " " + member.node.status());
    checkedCommitByMember.remove(member.id);
    committedCheckFrom(member);
    observe(member);
  }

  private void partition() {
    List<Long> ids = new ArrayList<>(members.keySet());
    long leader = currentLeader();
    int kind = random.nextInt(4);
    network.healAll();
    switch (kind) {
      case 0 -> {
        long isolated = ids.get(random.nextInt(ids.size()));
        isolate(isolated, ids);
        trace("partition: isolate " + isolated);
      }
      case 1 -> {
        if (leader != 0) {
          isolate(leader, ids);
          trace("partition: isolate leader " + leader);
        }
      }
      case 2 -> {
        List<Long> shuffled = shuffle(ids);
        int half = shuffled.size() / 2;
        for (int i = 0; i < half; i++) {
          for (int j = half; j < shuffled.size(); j++) {
            network.cutBoth(shuffled.get(i), shuffled.get(j));
          }
        }
        trace(
            "partition: halves "
                + shuffled.subList(0, half)
                + " | "
                + shuffled.subList(half, shuffled.size()));
      }
      default -> {
        long node = leader != 0 ? leader : ids.get(random.nextInt(ids.size()));
        boolean outgoing = random.nextBoolean();
        for (long other : ids) {
          if (other != node) {
            if (outgoing) {
              network.cut(node, other);
            } else {
              network.cut(other, node);
            }
          }
        }
        trace("partition: one-way " + (outgoing ? "from " : "to ") + node);
      }
    }
  }

  private void isolate(long isolated, List<Long> ids) {
    for (long other : ids) {
      if (other != isolated) {
        network.cutBoth(isolated, other);
      }
    }
  }

  private List<Long> shuffle(List<Long> ids) {
    List<Long> shuffled = new ArrayList<>(ids);
    for (int i = shuffled.size() - 1; i > 0; i--) {
      int j = random.nextInt(i + 1);
      Long swap = shuffled.get(i);
      shuffled.set(i, shuffled.get(j));
      shuffled.set(j, swap);
    }
    return shuffled;
  }

  private void proposeMembershipChange() {
    TestMember leader = members.get(currentLeader());
    if (leader == null) {
      return;
    }
    ConfState config = leader.node.status().confState();
    ConfChange change = chooseMembershipChange(config);
    if (change == null) {
      return;
    }
    try {
      leader.node.proposeConfChange(change);
      confChangesProposed++;
      trace("conf change at " + leader.id + ": " + change + " from " + config);
    } catch (ProposalDroppedException e) {
      trace("conf change refused: " + e.getMessage());
    }
    observe(leader);
  }

  private ConfChange chooseMembershipChange(ConfState config) {
    if (config.isJoint()) {
      return config.autoLeave() ? null : ConfChange.leaveJoint();
    }
    List<Long> voters = new ArrayList<>(config.voters());
    List<Long> learners = new ArrayList<>(config.learners());
    List<Long> outsiders = new ArrayList<>(members.keySet());
    outsiders.removeAll(voters);
    outsiders.removeAll(learners);
    int minimumVoters = options.voterCount() == 3 ? 2 : 3;
    int choice = random.nextInt(4);
    if (choice == 0 && !outsiders.isEmpty()) {
      return ConfChange.addLearner(outsiders.get(random.nextInt(outsiders.size())));
    }
    if (choice == 1 && !learners.isEmpty()) {
      return ConfChange.addVoter(learners.get(random.nextInt(learners.size())));
    }
    if (choice == 2 && voters.size() > minimumVoters) {
      return ConfChange.removeMember(voters.get(random.nextInt(voters.size())));
    }
    if (choice == 3 && !learners.isEmpty()) {
      // Joint consensus: swap a voter for a learner, the voter becoming a learner (or leaving).
      long incoming = learners.get(random.nextInt(learners.size()));
      long outgoing = voters.get(random.nextInt(voters.size()));
      ConfChange.OperationType fate =
          random.nextBoolean()
              ? ConfChange.OperationType.ADD_LEARNER
              : ConfChange.OperationType.REMOVE_MEMBER;
      ConfChange.Transition transition =
          random.nextBoolean()
              ? ConfChange.Transition.JOINT_IMPLICIT
              : ConfChange.Transition.JOINT_EXPLICIT;
      return new ConfChange(
          transition,
          List.of(
              new ConfChange.Operation(ConfChange.OperationType.ADD_VOTER, incoming),
              new ConfChange.Operation(fate, outgoing)));
    }
    return null;
  }

  private void requestLeaderTransfer() {
    TestMember leader = members.get(currentLeader());
    if (leader == null) {
      return;
    }
    List<Long> voters = new ArrayList<>(leader.node.status().confState().voters());
    voters.remove(leader.id);
    if (voters.isEmpty()) {
      return;
    }
    long target = voters.get(random.nextInt(voters.size()));
    leader.node.transferLeader(target);
    transfersRequested++;
    trace("transfer leader " + leader.id + " -> " + target);
    observe(leader);
  }

  private void healEverything() {
    trace("faults stop: heal network, restart every crashed member");
    network.healAll();
    network.dropProbability = 0;
    network.duplicateProbability = 0;
    network.maxDelayTicks = 2;
    for (TestMember member : members.values()) {
      if (!member.alive) {
        restart(member);
      }
    }
  }

  // ---------------------------------------------------------------- clients

  private void issueClientOperations() {
    List<TestMember> alive = aliveMembers();
    if (alive.isEmpty()) {
      return;
    }
    if (random.nextInt(100) < 30) {
      TestMember member = alive.get(random.nextInt(alive.size()));
      long value = nextOperationId++;
      try {
        member.node.propose(TestMember.encodeWrite(value));
        pendingWrites.put(value, member.id);
        trace("write " + value + " at " + member.id);
      } catch (ProposalDroppedException e) {
        trace("write " + value + " refused at " + member.id + ": " + e.reason());
      }
      observe(member);
    }
    if (random.nextInt(100) < 20) {
      TestMember member = alive.get(random.nextInt(alive.size()));
      long operation = nextOperationId++;
      byte[] context = ByteBuffer.allocate(9).put((byte) 'r').putLong(operation).array();
      long minimumIndex = committed.isEmpty() ? 0 : committed.lastKey();
      pendingReads.put(ByteBuffer.wrap(context), new PendingRead(member.id, minimumIndex, now));
      member.node.readIndex(context);
      trace("read " + operation + " at " + member.id + " (commit seen " + minimumIndex + ")");
      observe(member);
    }
  }

  private void expireClientOperations() {
    pendingReads.values().removeIf(read -> now - read.issuedTick() > READ_TIMEOUT_TICKS);
  }

  private void proposeMarkerAtLeader() {
    if (markerValue != 0) {
      return;
    }
    TestMember leader = members.get(currentLeader());
    if (leader == null) {
      return;
    }
    long value = nextOperationId++;
    try {
      leader.node.propose(TestMember.encodeWrite(value));
      markerValue = value;
      markerProposedTick = now;
      trace("liveness marker " + value + " proposed at " + leader.id);
    } catch (ProposalDroppedException e) {
      trace("liveness marker refused: " + e.reason());
    }
    observe(leader);
  }

  private boolean markerCommitted() {
    if (markerValue == 0 || committed.isEmpty()) {
      return false;
    }
    for (CommittedEntry entry : committed.tailMap(committed.lastKey() - 50, true).values()) {
      if (entry.data().length == 8 && TestMember.decodeWrite(entry.data()) == markerValue) {
        return true;
      }
    }
    if (now - markerProposedTick > MARKER_RETRY_TICKS) {
      // The marker may have been lost with a deposed leader: propose a new one.
      markerValue = 0;
    }
    return false;
  }

  // ---------------------------------------------------------------- listener (called by members)

  @Override
  public void applied(TestMember member, Entry entry) {
    recordCommitted(entry, member.node.status().term(), "apply at " + member.id);
    if (entry.type() == EntryType.NORMAL && entry.data().length == 8) {
      long value = TestMember.decodeWrite(entry.data());
      Long proposer = pendingWrites.get(value);
      if (proposer != null && proposer == member.id) {
        pendingWrites.remove(value);
        writesAcknowledged++;
      }
    }
  }

  @Override
  public void readServed(TestMember member, ReadState readState, long value, long writeIndex) {
    PendingRead read = pendingReads.remove(ByteBuffer.wrap(readState.context()));
    if (read == null || read.memberId() != member.id) {
      return; // timed out, or a duplicate
    }
    readsServed++;
    if (readState.index() < read.minimumIndex()) {
      throw new SafetyViolation(
          "stale read at member "
              + member.id
              + ": read index "
              + readState.index()
              + " is below the commit index "
              + read.minimumIndex()
              + " known when the read was issued");
    }
    long servedAt = member.appliedIndex;
    // The value must be the last committed write at or below the index the read was served at.
    Map.Entry<Long, CommittedEntry> newer = lastWriteIn(writeIndex + 1, servedAt);
    if (newer != null) {
      throw new SafetyViolation(
          "read at member "
              + member.id
              + " served at "
              + servedAt
              + " returned the write at "
              + writeIndex
              + " but index "
              + newer.getKey()
              + " holds a later committed write");
    }
    CommittedEntry written = committed.get(writeIndex);
    if (writeIndex > 0 && written != null && TestMember.decodeWrite(written.data()) != value) {
      throw new SafetyViolation(
          "read returned " + value + " but index " + writeIndex + " holds another write");
    }
    trace("read served at " + member.id + " index=" + readState.index() + " value=" + value);
  }

  private Map.Entry<Long, CommittedEntry> lastWriteIn(long lowIndex, long highIndex) {
    if (lowIndex > highIndex) {
      return null;
    }
    for (Map.Entry<Long, CommittedEntry> entry :
        committed.subMap(lowIndex, true, highIndex, true).descendingMap().entrySet()) {
      if (entry.getValue().type() == EntryType.NORMAL && entry.getValue().data().length > 0) {
        return entry;
      }
    }
    return null;
  }

  @Override
  public void snapshotInstalled(TestMember member, Snapshot snapshot) {
    trace("member " + member.id + " installs snapshot " + snapshot.metadata().index());
  }

  // ---------------------------------------------------------------- checkers

  /** Runs the per-member checks after anything happened to {@code member}. */
  private void observe(TestMember member) {
    if (!member.alive) {
      return;
    }
    Raft raft = member.node.raft();
    if (raft.role == Role.LEADER) {
      Long previous = leaderByTerm.putIfAbsent(raft.term, member.id);
      if (previous != null && previous != member.id) {
        throw new SafetyViolation(
            "two leaders in term " + raft.term + ": " + previous + " and " + member.id);
      }
      checkLeaderCompleteness(member, raft);
    }
    checkLogMatching(raft);
    checkCommittedPrefix(member, raft);
  }

  private void checkLeaderCompleteness(TestMember member, Raft raft) {
    // The newest entry committed in an earlier term must be in the leader's log; log matching
    // (checked separately) then covers everything before it.
    for (Map.Entry<Long, CommittedEntry> entry : committed.descendingMap().entrySet()) {
      if (entry.getValue().commitTerm() >= raft.term) {
        continue;
      }
      long index = entry.getKey();
      if (index < raft.log.firstIndex()) {
        return; // inside the leader's snapshot, which only holds committed entries
      }
      long term = raft.log.termOrZero(index);
      if (term != entry.getValue().term()) {
        throw new SafetyViolation(
            "leader completeness: leader "
                + member.id
                + " of term "
                + raft.term
                + " has term "
                + term
                + " at index "
                + index
                + ", committed with term "
                + entry.getValue().term()
                + " in term "
                + entry.getValue().commitTerm());
      }
      return;
    }
  }

  private void checkLogMatching(Raft raft) {
    List<Entry> unstable = raft.log.unstable.entries;
    if (unstable.isEmpty()) {
      return;
    }
    long previousTerm = raft.log.termOrZero(unstable.get(0).index() - 1);
    for (Entry entry : unstable) {
      fingerprint(entry, previousTerm);
      previousTerm = entry.term();
    }
  }

  private void fingerprint(Entry entry, long previousTerm) {
    EntryFingerprint print =
        new EntryFingerprint(
            Arrays.hashCode(entry.data()) * 31 + entry.type().code(), previousTerm);
    EntryFingerprint known =
        fingerprints.putIfAbsent(new EntryId(entry.index(), entry.term()), print);
    if (known != null
        && (known.dataHash() != print.dataHash()
            || (known.previousTerm() != print.previousTerm()
                && previousTerm != 0
                && known.previousTerm() != 0))) {
      throw new SafetyViolation(
          "log matching: two different entries at index "
              + entry.index()
              + " term "
              + entry.term());
    }
  }

  /** Entries a member knows as committed must equal the oracle's; new ones extend it. */
  private void checkCommittedPrefix(TestMember member, Raft raft) {
    long checked = checkedCommitByMember.getOrDefault(member.id, 0L);
    long commit = raft.log.committed;
    if (commit <= checked) {
      return;
    }
    long low = Math.max(checked + 1, raft.log.firstIndex());
    if (low <= commit) {
      for (Entry entry : raft.log.slice(low, commit + 1, Long.MAX_VALUE)) {
        recordCommitted(entry, raft.term, "commit at " + member.id);
      }
    }
    checkedCommitByMember.put(member.id, commit);
  }

  private void committedCheckFrom(TestMember member) {
    // After a restart, everything the member persisted as committed must still be committed.
    HardState hardState = member.storage.hardState();
    long low = member.storage.firstIndex();
    for (long index = low;
        index <= Math.min(hardState.commit(), member.storage.lastIndex());
        index++) {
      Entry entry = member.storage.entries(index, index + 1, Long.MAX_VALUE).get(0);
      recordCommitted(entry, hardState.term(), "restart of " + member.id);
    }
  }

  private void recordCommitted(Entry entry, long observedTerm, String where) {
    CommittedEntry known = committed.get(entry.index());
    if (known == null) {
      committed.put(
          entry.index(),
          new CommittedEntry(entry.term(), entry.type(), entry.data(), observedTerm));
      return;
    }
    if (known.term() != entry.term() || !Arrays.equals(known.data(), entry.data())) {
      throw new SafetyViolation(
          "committed entry changed at index "
              + entry.index()
              + " ("
              + where
              + "): was term "
              + known.term()
              + ", now term "
              + entry.term());
    }
    if (observedTerm < known.commitTerm()) {
      committed.put(
          entry.index(),
          new CommittedEntry(known.term(), known.type(), known.data(), observedTerm));
    }
  }

  // ---------------------------------------------------------------- helpers

  private List<TestMember> aliveMembers() {
    List<TestMember> alive = new ArrayList<>();
    members.values().stream().filter(member -> member.alive).forEach(alive::add);
    return alive;
  }

  /** The alive leader of the highest term, or 0. */
  private long currentLeader() {
    return TestMember.leaderOfHighestTerm(members.values());
  }

  private String roles() {
    StringBuilder out = new StringBuilder();
    for (TestMember member : members.values()) {
      out.append(member.id).append('=');
      out.append(member.alive ? member.node.status().toString() : "dead").append("; ");
    }
    return out.toString();
  }

  private void trace(String event) {
    String line = "t" + now + " " + event;
    traceDigest = traceDigest * 31 + line.hashCode();
    if (options.trace()) {
      System.out.println("[seed " + seed + "] " + line);
    } else {
      traceTail.addLast(line);
      if (traceTail.size() > TRACE_TAIL_LINES) {
        traceTail.removeFirst();
      }
    }
  }
}
