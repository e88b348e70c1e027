package io.ringkv.server.raft;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.ringkv.proto.internal.Command;
import io.ringkv.proto.internal.GroupRaftMessage;
import io.ringkv.proto.internal.Heartbeats;
import io.ringkv.proto.internal.RaftBatch;
import io.ringkv.raft.ConfChange;
import io.ringkv.raft.ConfState;
import io.ringkv.raft.Config;
import io.ringkv.raft.Entry;
import io.ringkv.raft.EntryType;
import io.ringkv.raft.Invariants;
import io.ringkv.raft.Message;
import io.ringkv.raft.MessageType;
import io.ringkv.raft.ProposalDroppedException;
import io.ringkv.raft.RawNode;
import io.ringkv.raft.ReadState;
import io.ringkv.raft.Ready;
import io.ringkv.raft.Role;
import io.ringkv.raft.Snapshot;
import io.ringkv.raft.SnapshotMetadata;
import io.ringkv.raft.Status;
import io.ringkv.server.transport.PeerMessageHandler;
import io.ringkv.storage.LogWrite;
import io.ringkv.storage.PartitionStore;
import io.ringkv.storage.RaftLogStore;
import io.ringkv.storage.StorageEngine;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.random.RandomGenerator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Drives every local replica of every partition from ONE thread, with one apply thread beside it.
 *
 * <p>Design notes. Other threads never touch a {@link RawNode}: gRPC handlers and the peer
 * transport hand work to a bounded inbox and get futures back. One iteration of the loop: run the
 * inbox (peer messages, proposals, reads) and the finished log writes, tick every group if the
 * single timer is due, propose each group's queued proposals as one batch, issue one ReadIndex per
 * group for all reads queued this iteration, then take the Ready of every group that has no log
 * write in flight; send the pre-persistence messages; hand committed entries that are already
 * durable to the apply thread; submit all those groups' log writes to the group committer (one
 * RocksDB write, one fsync) and go on without waiting. When the fsync is done, the loop sends the
 * persisted messages, hands the rest of the committed entries to the apply thread and advances
 * those groups. So the driver keeps stepping, proposing and answering reads while the disk works,
 * and whatever arrives meanwhile goes into the next fsync. Stepping a group between its Ready and
 * its advance is allowed by the core; only its next Ready waits.
 *
 * <p>The apply thread ({@link ApplyLoop}) applies committed entries group by group in log order,
 * answers the proposals and releases reads whose read index it reached. Configuration changes take
 * effect in the core when handed over, in log order. Outgoing messages are gathered per peer node
 * into RaftBatch frames (at most one per phase and peer, split only past the frame budget), so the
 * heartbeats of all groups two nodes share travel in one frame per tick.
 *
 * <p>Snapshots: the log is compacted behind the applied index (keeping half the threshold), only
 * while the group has no write in flight. When the core sends a snapshot, the driver hands the
 * message to a {@link SnapshotShipper} and goes on: the shipper exports the partition's current
 * state off this thread, rewrites the metadata to the exported applied index and term (so data and
 * metadata agree), streams it in chunks, and reports the outcome back ({@link #reportSnapshot}). On
 * the follower, a complete and verified transfer arrives through {@link #deliverSnapshot} with a
 * local directory as its data; a MSG_SNAP inside an ordinary RaftBatch is refused. A received
 * snapshot is installed on the apply thread, after everything handed to it before, while the driver
 * waits (rare).
 *
 * <p>Crash windows: committed entries this node already holds durably are applied before the
 * Ready's fsync, and a received snapshot is installed before the log records it, so after a crash
 * the store may be ahead of the persisted commit index. Such entries come again after restart and
 * are skipped (only up to the applied index found at open; anything else delivered twice is a
 * broken invariant).
 *
 * <p>A replica whose processing throws (a broken invariant, a storage failure) is stopped and
 * logged loudly; the other partitions keep running.
 */
public final class MultiRaftDriver implements PeerMessageHandler, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(MultiRaftDriver.class);

  /**
   * Sends a MSG_SNAP's state to its follower without blocking the caller; the outcome comes back
   * through {@link #reportSnapshot}.
   */
  public interface SnapshotShipper {
    void ship(int partition, Message message, PartitionStore store);
  }

  /** Sends one frame to a peer node without blocking; false when it was dropped. */
  public interface PeerSender {
    boolean sendRaftBatch(long toNodeId, RaftBatch batch);
  }

  private final DriverSettings settings;
  private final StorageEngine engine;
  private final Clock clock;
  private final RandomGenerator random;
  private final Map<Integer, GroupReplica> groups = new LinkedHashMap<>();
  private final AtomicReferenceArray<GroupStatus> statuses;
  private final LinkedBlockingQueue<Runnable> inbox;

  /** Finished group commits, run by the loop; never bounded, so a completion is never lost. */
  private final ConcurrentLinkedQueue<Runnable> completions = new ConcurrentLinkedQueue<>();

  private final ApplyLoop applier = new ApplyLoop("ringkv-apply");
  private final Thread thread;
  private volatile boolean running = true;
  private PeerSender sender;

  /** Leader balancing: period in ticks (0 = off) and which peers are connected now. */
  private long balanceIntervalTicks;

  private java.util.function.LongPredicate peerConnected = id -> false;
  private long ticks;

  private final Counter balanceTransfers;
  private SnapshotShipper shipper;

  /**
   * Driver-thread only: received snapshot directories stepped into a core and not installed yet,
   * oldest first. A core may ignore one (stale term or index); such directories are deleted when a
   * later one of the partition is installed, or beyond {@link #DELIVERED_SNAPSHOTS_MAX}.
   */
  private final Map<Integer, List<Path>> deliveredSnapshots = new HashMap<>();

  private static final int DELIVERED_SNAPSHOTS_MAX = 4;
  private long nextRequestId;
  private long nextReadContext;

  private final Counter leaderChanges;
  private final Counter droppedInbound;
  private final Counter malformedInbound;
  private final Counter framesDropped;
  private final Timer fsyncTimer;
  private final DistributionSummary commitWrites;
  private final Timer proposalToApply;
  private final Timer proposalToCommit;
  private final Timer applyTimer;
  private final Counter snapshotsSent;
  private final Counter snapshotsInstalled;

  /**
   * Opens every local replica (bootstrapping a new group's configuration to {@code voters} on first
   * start) and prepares the loop; {@link #start} runs it.
   *
   * @param replicas partition -> voters, for the partitions this node holds a replica of
   * @param partitionCount total partitions (for the status table)
   */
  public MultiRaftDriver(
      DriverSettings settings,
      StorageEngine engine,
      Map<Integer, List<Long>> replicas,
      int partitionCount,
      Clock clock,
      RandomGenerator random,
      MeterRegistry registry) {
    this.settings = settings;
    this.engine = engine;
    this.clock = clock;
    this.random = random;
    this.statuses = new AtomicReferenceArray<>(partitionCount);
    this.inbox = new LinkedBlockingQueue<>(settings.inboxTasksMax());
    this.nextRequestId = random.nextLong() & Long.MAX_VALUE; // unique across restarts
    this.leaderChanges = counter(registry, "ringkv.raft.leader.changes", "leader changes seen");
    this.droppedInbound =
        counter(registry, "ringkv.driver.inbox.dropped", "work dropped: driver inbox full");
    this.malformedInbound =
        counter(registry, "ringkv.driver.peer.malformed", "malformed peer Raft messages dropped");
    this.framesDropped =
        counter(registry, "ringkv.driver.frames.dropped", "outgoing RaftBatch frames dropped");
    this.snapshotsSent = counter(registry, "ringkv.raft.snapshots.sent", "snapshots sent");
    this.balanceTransfers =
        counter(
            registry,
            "ringkv.raft.leader.balance.transfers",
            "leadership handed to a partition's preferred replica");
    this.snapshotsInstalled =
        counter(registry, "ringkv.raft.snapshots.installed", "snapshots installed");
    this.fsyncTimer =
        Timer.builder("ringkv.driver.commit.latency")
            .description("group commit (one write + fsync for all groups) latency")
            .publishPercentileHistogram()
            .register(registry);
    this.commitWrites =
        DistributionSummary.builder("ringkv.driver.commit.groups")
            .description("groups persisted per group commit")
            .register(registry);
    this.proposalToApply =
        Timer.builder("ringkv.raft.proposal.latency")
            .description("proposal to applied (commit plus apply) on the leader")
            .publishPercentileHistogram()
            .register(registry);
    this.proposalToCommit =
        Timer.builder("ringkv.raft.proposal.commit.latency")
            .description("proposal to committed (seen committed by the leader's driver)")
            .publishPercentileHistogram()
            .register(registry);
    this.applyTimer =
        Timer.builder("ringkv.driver.apply.latency")
            .description("commit to apply: applying one group's committed entries")
            .register(registry);
    openGroups(replicas);
    for (int partition : groups.keySet()) {
      registerGauges(registry, partition);
    }
    this.thread = new Thread(this::loop, "ringkv-raft-driver");
    this.thread.setDaemon(true);
  }

  private static Counter counter(MeterRegistry registry, String name, String description) {
    return Counter.builder(name).description(description).register(registry);
  }

  private void registerGauges(MeterRegistry registry, int partition) {
    String tag = Integer.toString(partition);
    Gauge.builder("ringkv.partition.role", () -> roleCode(statuses.get(partition)))
        .description("0 follower, 1 pre-candidate, 2 candidate, 3 leader")
        .tag("partition", tag)
        .register(registry);
    Gauge.builder("ringkv.partition.term", () -> value(partition, GroupStatus::term))
        .tag("partition", tag)
        .register(registry);
    Gauge.builder("ringkv.partition.commit.index", () -> value(partition, GroupStatus::commitIndex))
        .tag("partition", tag)
        .register(registry);
    Gauge.builder(
            "ringkv.partition.applied.index", () -> value(partition, GroupStatus::appliedIndex))
        .tag("partition", tag)
        .register(registry);
  }

  private double value(int partition, java.util.function.ToLongFunction<GroupStatus> field) {
    GroupStatus status = statuses.get(partition);
    return status == null ? 0 : field.applyAsLong(status);
  }

  private static double roleCode(GroupStatus status) {
    return status == null ? 0 : status.role().ordinal();
  }

  private void openGroups(Map<Integer, List<Long>> replicas) {
    List<LogWrite> bootstrap = new ArrayList<>();
    for (Map.Entry<Integer, List<Long>> placed : replicas.entrySet()) {
      RaftLogStore raftLog = engine.raftLog(placed.getKey());
      if (raftLog.initialState().confState().voters().isEmpty()
          && raftLog.lastIndex() == 0
          && raftLog.snapshot().isEmpty()) {
        // Every replica writes the same initial configuration: the placement's voters.
        bootstrap.add(
            new LogWrite(
                placed.getKey(),
                null,
                List.of(),
                null,
                ConfState.ofVoters(new java.util.HashSet<>(placed.getValue()))));
      }
    }
    if (!bootstrap.isEmpty()) {
      engine.groupCommitter().commit(bootstrap);
      log.info("bootstrapped {} partition replicas", bootstrap.size());
    }
    for (int partition : replicas.keySet()) {
      RaftLogStore raftLog = engine.raftLog(partition);
      PartitionStore store = engine.partition(partition);
      Invariants.check(
          !store.needsSnapshot(),
          "partition %d: an interrupted snapshot install left it incomplete: %s",
          partition,
          store.needsSnapshotReason());
      Config config =
          Config.builder(settings.nodeId())
              .electionTimeoutTicks(settings.electionTimeoutTicks())
              .heartbeatTimeoutTicks(settings.heartbeatTimeoutTicks())
              .appliedIndex(store.appliedState().index())
              .preVote(true)
              .checkQuorum(true)
              .maxCommittedSizeBytesPerReady(settings.peerBatchSizeBytesMax())
              .build();
      RawNode raw = new RawNode(config, raftLog, random);
      GroupReplica replica =
          new GroupReplica(
              partition,
              raw,
              raftLog,
              store,
              new PartitionStateMachine(store, settings.sessionTtlMillis()));
      groups.put(partition, replica);
      publish(replica);
    }
  }

  /**
   * Turns on leader balancing (before {@link #start}): every {@code intervalTicks} ticks, each
   * partition this node leads is handed to its preferred replica (see {@link #preferredLeader})
   * when that replica is connected. The preferred replica never hands it on, so leadership settles;
   * a partition moved by {@link #transferLeader} is left alone for ten periods, by the old leader
   * and by the new one (which sees the transfer's TIMEOUT_NOW).
   */
  public void enableLeaderBalancing(
      long intervalTicks, java.util.function.LongPredicate connected) {
    Invariants.check(intervalTicks >= 1, "balance interval must be >= 1 tick");
    this.balanceIntervalTicks = intervalTicks;
    this.peerConnected = connected;
  }

  /**
   * The replica that should lead {@code partition}: the voters sorted by id, taken round robin by
   * partition number, so with N nodes each leads about 1/N of the partitions it holds.
   */
  public static long preferredLeader(int partition, java.util.Collection<Long> voters) {
    List<Long> sorted = new ArrayList<>(voters);
    Collections.sort(sorted);
    return sorted.get(partition % sorted.size());
  }

  /**
   * Starts the loop; frames to peers go through {@code peerSender}, snapshots through {@code
   * snapshotShipper}.
   */
  public MultiRaftDriver start(PeerSender peerSender, SnapshotShipper snapshotShipper) {
    this.sender = peerSender;
    this.shipper = snapshotShipper;
    applier.start();
    thread.start();
    return this;
  }

  // ---------------------------------------------------------------- API for other threads

  public boolean hosts(int partition) {
    return groups.containsKey(partition);
  }

  /** The last published status of the local replica of {@code partition}, or null. */
  public GroupStatus status(int partition) {
    return partition >= 0 && partition < statuses.length() ? statuses.get(partition) : null;
  }

  public PartitionStore store(int partition) {
    GroupReplica replica = groups.get(partition);
    if (replica == null) {
      throw new DriverException(DriverException.Kind.NOT_HOSTED, partition, 0, "not hosted");
    }
    return replica.store;
  }

  /**
   * Proposes {@code command} (its proposer, request id and time are filled in here). Completes with
   * the applied result, or fails with {@link DriverException}.
   */
  public CompletableFuture<ProposalOutcome> propose(int partition, Command command) {
    CompletableFuture<ProposalOutcome> future = new CompletableFuture<>();
    submit(partition, future, replica -> proposeNow(replica, command, future));
    return future;
  }

  /**
   * Confirms leadership for a linearizable read; completes with the term once the local state
   * machine has applied up to the read index, so a read of the local store is linearizable.
   */
  public CompletableFuture<Long> readIndex(int partition) {
    CompletableFuture<Long> future = new CompletableFuture<>();
    submit(
        partition,
        future,
        replica -> {
          if (replica.raw.status().role() != Role.LEADER) {
            future.completeExceptionally(notLeader(replica));
          } else {
            replica.queuedReads.add(future);
          }
        });
    return future;
  }

  /** Asks the local leader of {@code partition} to hand leadership to {@code target}. */
  public CompletableFuture<Void> transferLeader(int partition, long target) {
    CompletableFuture<Void> future = new CompletableFuture<>();
    submit(
        partition,
        future,
        replica -> {
          if (replica.raw.status().role() != Role.LEADER) {
            future.completeExceptionally(notLeader(replica));
          } else {
            replica.raw.transferLeader(target);
            leaveWhereSent(replica);
            future.complete(null);
          }
        });
    return future;
  }

  private void submit(
      int partition, CompletableFuture<?> future, java.util.function.Consumer<GroupReplica> work) {
    GroupReplica replica = groups.get(partition);
    if (replica == null) {
      future.completeExceptionally(
          new DriverException(DriverException.Kind.NOT_HOSTED, partition, 0, "not hosted here"));
      return;
    }
    Runnable task =
        () -> {
          if (replica.failure != null) {
            future.completeExceptionally(stopped(replica));
          } else {
            work.accept(replica);
          }
        };
    if (!running || !inbox.offer(task)) {
      droppedInbound.increment();
      future.completeExceptionally(
          new DriverException(
              DriverException.Kind.OVERLOADED, partition, 0, "node driver queue full or closed"));
    }
  }

  /**
   * Steps a received, verified MSG_SNAP whose data is the path of its local directory (see {@code
   * SnapshotTransfers}); the directory is this driver's from now on.
   */
  public void deliverSnapshot(long fromNodeId, int partition, Message message) {
    Path directory = Path.of(new String(message.snapshot().data(), StandardCharsets.UTF_8));
    CompletableFuture<Void> done = new CompletableFuture<>();
    submit(
        partition,
        done,
        replica -> {
          List<Path> delivered =
              deliveredSnapshots.computeIfAbsent(partition, p -> new ArrayList<>());
          delivered.add(directory);
          if (delivered.size() > DELIVERED_SNAPSHOTS_MAX) {
            deleteTree(delivered.removeFirst());
          }
          guarded(replica, () -> replica.raw.step(message));
          done.complete(null);
        });
    done.whenComplete((ignored, failure) -> {
      if (failure != null) {
        deleteTree(directory);
      }
    });
  }

  /** Tells the core of {@code partition} how the snapshot transfer to {@code toNodeId} ended. */
  public void reportSnapshot(int partition, long toNodeId, boolean success) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    submit(
        partition,
        done,
        replica -> {
          guarded(replica, () -> replica.raw.reportSnapshot(toNodeId, success));
          done.complete(null);
        });
  }

  @Override
  public void onRaftBatch(long fromNodeId, RaftBatch batch) {
    if (!inbox.offer(() -> deliver(fromNodeId, batch))) {
      droppedInbound.increment();
    }
  }

  @Override
  public void onHeartbeats(long fromNodeId, Heartbeats heartbeats) {
    // This driver sends heartbeats inside RaftBatch frames; a Heartbeats frame is not expected.
    malformedInbound.increment();
  }

  // ---------------------------------------------------------------- the loop

  private void loop() {
    long tickNanos = TimeUnit.MILLISECONDS.toNanos(settings.tickMillis());
    long nextTick = System.nanoTime() + tickNanos;
    while (running) {
      try {
        long waitNanos = nextTick - System.nanoTime();
        Runnable first =
            !completions.isEmpty()
                ? inbox.poll()
                : waitNanos > 0 ? inbox.poll(waitNanos, TimeUnit.NANOSECONDS) : inbox.poll();
        if (first != null) {
          first.run();
          drainInbox();
        }
        runCompletions();
        long now = System.nanoTime();
        if (now - nextTick >= 0) {
          tickAll();
          nextTick = now - nextTick > tickNanos ? now + tickNanos : nextTick + tickNanos;
        }
        flushProposals();
        issueReads();
        processReadies();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      } catch (RuntimeException | Error e) {
        // Per-group failures are contained below; anything reaching here is a driver bug.
        log.error("driver iteration failed", e);
      }
    }
    failEverything();
  }

  private void drainInbox() {
    // Bounded per iteration so a flood of requests cannot starve ticks and persistence.
    for (int count = 0; count < settings.inboxTasksMax(); count++) {
      Runnable task = inbox.poll();
      if (task == null) {
        return;
      }
      task.run();
    }
  }

  private void runCompletions() {
    Runnable task;
    while ((task = completions.poll()) != null) {
      task.run();
    }
  }

  private void deliver(long fromNodeId, RaftBatch batch) {
    for (GroupRaftMessage grouped : batch.getMessagesList()) {
      long groupId = grouped.getGroupId();
      GroupReplica replica = groupId < Integer.MAX_VALUE ? groups.get((int) groupId) : null;
      Message message;
      try {
        message = RaftMessageCodec.decode(grouped.getMessage());
      } catch (RaftMessageCodec.MalformedMessageException e) {
        malformedInbound.increment();
        continue;
      }
      if (replica == null
          || replica.failure != null
          || message.to() != settings.nodeId()
          || message.from() != fromNodeId
          || message.type() == MessageType.SNAPSHOT) {
        malformedInbound.increment();
        continue;
      }
      if (message.type() == MessageType.TIMEOUT_NOW) {
        leaveWhereSent(replica); // leadership handed here on purpose (a requested transfer)
      }
      guarded(replica, () -> replica.raw.step(message));
    }
  }

  private void tickAll() {
    ticks++;
    if (balanceIntervalTicks > 0 && ticks % balanceIntervalTicks == 0) {
      balanceLeaders();
    }
    for (GroupReplica replica : groups.values()) {
      if (replica.failure == null) {
        guarded(replica, replica.raw::tick);
      }
      // Forget futures whose callers gave up (deadline), so nothing grows without bound.
      replica.pending.values().removeIf(pending -> pending.future().isDone());
      replica.readsAwaitingIndex.values().removeIf(list -> list.stream().allMatch(f -> f.isDone()));
    }
  }

  /** Balancing leaves a partition moved by a requested transfer alone for ten periods. */
  private void leaveWhereSent(GroupReplica replica) {
    replica.balanceAfterTick = ticks + 10 * Math.max(1, balanceIntervalTicks);
  }

  private void balanceLeaders() {
    for (GroupReplica replica : groups.values()) {
      if (replica.failure != null || ticks < replica.balanceAfterTick) {
        continue;
      }
      Status status = replica.raw.status();
      if (status.role() != Role.LEADER || status.leadTransferee() != 0) {
        continue;
      }
      long preferred = preferredLeader(replica.partition, status.confState().voters());
      if (preferred != settings.nodeId() && peerConnected.test(preferred)) {
        log.debug("partition {}: handing leadership to node {}", replica.partition, preferred);
        guarded(replica, () -> replica.raw.transferLeader(preferred));
        balanceTransfers.increment();
      }
    }
  }

  /** Proposes what each group's leader collected in this iteration as one batch. */
  private void flushProposals() {
    for (GroupReplica replica : groups.values()) {
      if (replica.queuedProposals.isEmpty()) {
        continue;
      }
      List<GroupReplica.Proposal> batch = new ArrayList<>(replica.queuedProposals);
      replica.queuedProposals.clear();
      if (replica.failure != null) {
        DriverException stopped = stopped(replica);
        batch.forEach(proposal -> proposal.future().completeExceptionally(stopped));
        continue;
      }
      if (replica.raw.status().role() != Role.LEADER) {
        // Not proposed: the caller may route the request again.
        DriverException notLeader = notLeader(replica);
        batch.forEach(proposal -> proposal.future().completeExceptionally(notLeader));
        continue;
      }
      guarded(replica, () -> proposeBatch(replica, batch));
      if (replica.failure != null) {
        // The core threw while proposing: nothing in this batch will be answered by apply.
        DriverException stopped = stopped(replica);
        batch.forEach(proposal -> proposal.future().completeExceptionally(stopped));
      }
    }
  }

  private static DriverException stopped(GroupReplica replica) {
    return new DriverException(
        DriverException.Kind.UNAVAILABLE, replica.partition, 0, "replica stopped on failure");
  }

  private void proposeBatch(GroupReplica replica, List<GroupReplica.Proposal> batch) {
    List<byte[]> commands = new ArrayList<>(batch.size());
    batch.forEach(proposal -> commands.add(proposal.data()));
    try {
      replica.raw.proposeBatch(commands);
    } catch (ProposalDroppedException e) {
      DriverException dropped =
          new DriverException(
              DriverException.Kind.UNAVAILABLE, replica.partition, 0, "proposal dropped: " + e);
      batch.forEach(proposal -> proposal.future().completeExceptionally(dropped));
      return;
    }
    long now = System.nanoTime();
    replica.proposedAt.add(new long[] {replica.raw.status().lastIndex(), now});
    for (GroupReplica.Proposal proposal : batch) {
      replica.pending.put(proposal.requestId(), new GroupReplica.Pending(proposal.future(), now));
    }
  }

  private void issueReads() {
    for (GroupReplica replica : groups.values()) {
      if (replica.queuedReads.isEmpty() || replica.failure != null) {
        continue;
      }
      // One ReadIndex round for every read queued on this group in this iteration.
      long context = ++nextReadContext;
      List<CompletableFuture<Long>> reads = new ArrayList<>(replica.queuedReads);
      replica.queuedReads.clear();
      replica.readsAwaitingIndex.put(context, reads);
      guarded(
          replica,
          () -> replica.raw.readIndex(ByteBuffer.allocate(Long.BYTES).putLong(context).array()));
    }
  }

  private static final class GroupReady {
    final GroupReplica replica;
    final Ready ready;

    /** Committed entries handed to the apply thread before this Ready's log write finished. */
    int handedEarly;

    LogWrite write;
    CompletableFuture<Void> written;

    GroupReady(GroupReplica replica, Ready ready) {
      this.replica = replica;
      this.ready = ready;
    }
  }

  /**
   * Takes the Ready of every group that has one and no log write in flight. Messages that may go
   * before persistence are sent at once; the groups' log writes go to the group committer together
   * (one fsync for all of them) and the loop goes on while they are written: stepping, proposing
   * and reading continue, and {@link #afterWrites} finishes those Readies when the fsync is done.
   */
  private void processReadies() {
    List<GroupReady> readies = new ArrayList<>();
    Outbox early = new Outbox();
    for (GroupReplica replica : groups.values()) {
      if (replica.failure != null) {
        continue;
      }
      if (replica.writing != null) {
        // Its Ready waits for the fsync; what needs no persistence goes now.
        guarded(
            replica,
            () -> {
              addMessages(early, replica, replica.raw.takeMessagesBeforePersistence());
              serveReads(replica, replica.raw.takeReadStates());
            });
      } else if (replica.raw.hasReady()) {
        guarded(replica, () -> readies.add(new GroupReady(replica, replica.raw.ready())));
      }
    }
    for (GroupReady item : readies) {
      guarded(item.replica, () -> addMessages(early, item.replica, item.ready.messages()));
    }
    early.flush();
    if (readies.isEmpty()) {
      observeRoles();
      return;
    }
    List<GroupReady> toWrite = new ArrayList<>();
    List<GroupReady> done = new ArrayList<>();
    for (GroupReady item : readies) {
      guarded(
          item.replica,
          () -> {
            if (!item.ready.snapshot().isEmpty()) {
              // Rare: install on the apply thread after everything handed to it before, and wait.
              applier.runAndWait(() -> installSnapshot(item.replica, item.ready.snapshot()));
              item.replica.handedIndex = item.replica.appliedIndex;
            } else {
              handOutDurable(item);
            }
            serveReads(item.replica, item.ready.readStates());
            item.write = persistencePlan(item.replica, item.ready);
            if (item.write == null) {
              done.add(item);
            } else {
              item.written = engine.groupCommitter().submit(item.write);
              item.replica.writing = item.ready;
              toWrite.add(item);
            }
          });
    }
    if (!toWrite.isEmpty()) {
      long started = System.nanoTime();
      CompletableFuture.allOf(
              toWrite.stream().map(w -> w.written).toArray(CompletableFuture[]::new))
          .whenComplete((ignored, error) -> {
            long took = System.nanoTime() - started;
            completions.add(() -> afterWrites(toWrite, took));
            inbox.offer(() -> {}); // wake the loop; if the inbox is full it is awake anyway
          });
    }
    if (!done.isEmpty()) {
      finishReadies(done);
    }
    observeRoles();
  }

  /** Runs on the driver thread once every log write of one {@link #processReadies} is done. */
  private void afterWrites(List<GroupReady> items, long tookNanos) {
    fsyncTimer.record(tookNanos, TimeUnit.NANOSECONDS);
    commitWrites.record(items.size());
    List<GroupReady> written = new ArrayList<>(items.size());
    for (GroupReady item : items) {
      item.replica.writing = null;
      guarded(
          item.replica,
          () -> {
            item.written.join(); // throws if this write failed: the replica stops
            written.add(item);
          });
    }
    finishReadies(written);
    observeRoles();
  }

  /** The Readies' log writes are durable: send what waited for that, apply, advance. */
  private void finishReadies(List<GroupReady> items) {
    Outbox late = new Outbox();
    for (GroupReady item : items) {
      guarded(item.replica, () -> addMessages(late, item.replica, item.ready.persistedMessages()));
    }
    late.flush();
    for (GroupReady item : items) {
      guarded(
          item.replica,
          () -> {
            noteDurable(item.replica, item.ready);
            List<Entry> committed = item.ready.committedEntries();
            handOut(item.replica, committed.subList(item.handedEarly, committed.size()));
            item.replica.raw.advance(item.ready);
            maybeCompact(item.replica);
          });
    }
  }

  /**
   * Committed entries this node already holds durably (from earlier writes) need not wait for this
   * Ready's log write: they go to the apply thread at once.
   */
  private void handOutDurable(GroupReady item) {
    List<Entry> committed = item.ready.committedEntries();
    int durable = 0;
    while (durable < committed.size()
        && committed.get(durable).index() <= item.replica.durableIndex) {
      durable++;
    }
    handOut(item.replica, committed.subList(0, durable));
    item.handedEarly = durable;
  }

  /** Records how far this group's log is durable after the iteration's group commit. */
  private static void noteDurable(GroupReplica replica, Ready ready) {
    if (!ready.snapshot().isEmpty()) {
      replica.durableIndex = ready.snapshot().metadata().index();
    }
    if (!ready.entries().isEmpty()) {
      // Appending may also truncate a conflicting suffix: the last entry written is the end.
      replica.durableIndex = ready.entries().getLast().index();
    }
  }

  /** What this group must write durably (a received snapshot is installed before this). */
  private static LogWrite persistencePlan(GroupReplica replica, Ready ready) {
    SnapshotMetadata snapshot = null;
    ConfState confState = null;
    if (!ready.snapshot().isEmpty()) {
      snapshot = ready.snapshot().metadata();
      confState = snapshot.confState();
    }
    if (!ready.mustPersist()) {
      return null;
    }
    return new LogWrite(
        replica.partition, snapshot, ready.entries(), ready.hardState().orElse(null), confState);
  }

  // ---------------------------------------------------------------- proposals and apply

  private void proposeNow(
      GroupReplica replica, Command command, CompletableFuture<ProposalOutcome> future) {
    Status status = replica.raw.status();
    if (status.role() != Role.LEADER) {
      future.completeExceptionally(notLeader(replica));
      return;
    }
    if (replica.pending.size() + replica.queuedProposals.size()
        >= settings.inflightProposalsPerPartitionMax()) {
      future.completeExceptionally(
          new DriverException(
              DriverException.Kind.OVERLOADED,
              replica.partition,
              settings.nodeId(),
              "inflight-proposals-per-partition-max ("
                  + settings.inflightProposalsPerPartitionMax()
                  + ") reached"));
      return;
    }
    long requestId = nextRequestId++;
    byte[] data =
        command.toBuilder()
            .setProposerNodeId(settings.nodeId())
            .setRequestId(requestId)
            .setProposedAtMillis(clock.millis())
            .build()
            .toByteArray();
    replica.queuedProposals.add(new GroupReplica.Proposal(requestId, data, future));
  }

  /**
   * Hands committed entries to the apply thread (driver thread). Configuration changes take effect
   * in the Raft core here, in log order; entries the store applied before a restart are skipped.
   */
  private void handOut(GroupReplica replica, List<Entry> committed) {
    int skip = 0;
    while (skip < committed.size() && committed.get(skip).index() <= replica.handedIndex) {
      Invariants.check(
          committed.get(skip).index() <= replica.appliedAtOpen,
          "partition %d: entry %d delivered again after it was applied",
          replica.partition,
          committed.get(skip).index());
      skip++;
    }
    if (skip == committed.size()) {
      return;
    }
    List<Entry> entries = List.copyOf(committed.subList(skip, committed.size()));
    ConfState confState = null;
    for (Entry entry : entries) {
      Invariants.check(
          entry.index() == replica.handedIndex + 1,
          "partition %d: committed entry %d after %d",
          replica.partition,
          entry.index(),
          replica.handedIndex);
      replica.handedIndex = entry.index();
      if (entry.type() == EntryType.CONF_CHANGE) {
        confState = replica.raw.applyConfChange(ConfChange.decode(entry.data()));
      }
    }
    long now = System.nanoTime();
    while (!replica.proposedAt.isEmpty() && replica.proposedAt.peek()[0] <= replica.handedIndex) {
      proposalToCommit.record(now - replica.proposedAt.poll()[1], TimeUnit.NANOSECONDS);
    }
    ConfState newConfState = confState;
    applier.execute(() -> applyCommitted(replica, entries, newConfState));
  }

  /** Applies committed entries and answers their proposals (apply thread). */
  private void applyCommitted(GroupReplica replica, List<Entry> entries, ConfState confState) {
    if (replica.failure != null) {
      return;
    }
    try {
      long started = System.nanoTime();
      Invariants.check(
          entries.getFirst().index() == replica.appliedIndex + 1,
          "partition %d: applying entry %d after applied %d",
          replica.partition,
          entries.getFirst().index(),
          replica.appliedIndex);
      List<PartitionStateMachine.Applied> results = replica.stateMachine.apply(entries, confState);
      replica.appliedIndex = entries.getLast().index();
      long term = entries.getLast().term();
      for (PartitionStateMachine.Applied applied : results) {
        if (applied.proposerNodeId() != settings.nodeId()) {
          continue;
        }
        GroupReplica.Pending pending = replica.pending.remove(applied.requestId());
        if (pending != null) {
          proposalToApply.record(
              System.nanoTime() - pending.proposedAtNanos(), TimeUnit.NANOSECONDS);
          pending.future().complete(new ProposalOutcome(applied.result(), term, applied.index()));
        }
      }
      applyTimer.record(System.nanoTime() - started, TimeUnit.NANOSECONDS);
      releaseParkedReads(replica);
    } catch (RuntimeException e) {
      stopFromApply(replica, e);
    }
  }

  /** A failure on the apply thread stops the replica; the driver fails what waits on it. */
  private void stopFromApply(GroupReplica replica, RuntimeException e) {
    if (replica.failure != null) {
      return;
    }
    replica.failure = e;
    log.error("partition {}: replica stopped after a failure while applying", replica.partition, e);
    completions.add(() -> failWaiting(replica, "replica stopped: " + e.getMessage()));
    inbox.offer(() -> {});
  }

  /** Hands reads whose ReadIndex came back to the apply thread, which serves them once applied. */
  private void serveReads(GroupReplica replica, List<ReadState> readStates) {
    if (readStates.isEmpty()) {
      return;
    }
    long term = replica.raw.status().term();
    for (ReadState state : readStates) {
      long context = ByteBuffer.wrap(state.context()).getLong();
      List<CompletableFuture<Long>> reads = replica.readsAwaitingIndex.remove(context);
      if (reads == null) {
        continue;
      }
      long index = state.index();
      applier.execute(() -> {
        if (index <= replica.appliedIndex) {
          reads.forEach(read -> read.complete(term));
        } else {
          replica.parkedReads.add(new GroupReplica.ParkedReads(index, term, reads));
        }
      });
    }
  }

  /** Answers parked reads whose index is applied now (apply thread). */
  private static void releaseParkedReads(GroupReplica replica) {
    if (replica.parkedReads.isEmpty()) {
      return;
    }
    Iterator<GroupReplica.ParkedReads> parked = replica.parkedReads.iterator();
    while (parked.hasNext()) {
      GroupReplica.ParkedReads reads = parked.next();
      if (reads.index() <= replica.appliedIndex) {
        reads.futures().forEach(read -> read.complete(reads.term()));
        parked.remove();
      }
    }
  }

  private void maybeCompact(GroupReplica replica) {
    RaftLogStore raftLog = replica.log;
    long firstIndex = raftLog.firstIndex();
    if (replica.appliedIndex - firstIndex + 1 <= settings.logCompactionEntries()) {
      return;
    }
    long compactTo = replica.appliedIndex - settings.logCompactionEntries() / 2;
    if (compactTo < firstIndex || compactTo > raftLog.lastIndex()) {
      return;
    }
    SnapshotMetadata metadata =
        new SnapshotMetadata(compactTo, raftLog.term(compactTo), replica.raw.status().confState());
    raftLog.saveSnapshot(metadata);
    raftLog.compact(compactTo);
    log.debug("partition {}: log compacted through {}", replica.partition, compactTo);
  }

  // ---------------------------------------------------------------- roles and failures

  private void observeRoles() {
    for (GroupReplica replica : groups.values()) {
      if (replica.failure != null) {
        continue;
      }
      Status status = replica.raw.status();
      if (status.leaderId() != replica.knownLeader) {
        if (status.leaderId() != 0) {
          leaderChanges.increment();
          log.info(
              "partition {}: leader is now node {} (term {})",
              replica.partition,
              status.leaderId(),
              status.term());
        }
        replica.knownLeader = status.leaderId();
      }
      if (replica.knownRole == Role.LEADER && status.role() != Role.LEADER) {
        failWaiting(replica, "leadership lost while the request was pending");
      }
      replica.knownRole = status.role();
      publish(replica);
    }
  }

  private void publish(GroupReplica replica) {
    Status status = replica.raw.status();
    statuses.set(
        replica.partition,
        new GroupStatus(
            replica.partition,
            status.role(),
            status.term(),
            status.leaderId(),
            status.commitIndex(),
            replica.appliedIndex,
            List.copyOf(status.confState().voters())));
  }

  private void failWaiting(GroupReplica replica, String reason) {
    DriverException failure =
        new DriverException(
            DriverException.Kind.UNAVAILABLE,
            replica.partition,
            replica.raw.status().leaderId(),
            reason + " (outcome unknown)");
    for (GroupReplica.Pending pending : List.copyOf(replica.pending.values())) {
      pending.future().completeExceptionally(failure);
    }
    replica.pending.clear();
    replica.queuedProposals.forEach(proposal -> proposal.future().completeExceptionally(failure));
    replica.queuedProposals.clear();
    replica.proposedAt.clear();
    replica.queuedReads.forEach(read -> read.completeExceptionally(failure));
    replica.queuedReads.clear();
    replica
        .readsAwaitingIndex
        .values()
        .forEach(l -> l.forEach(r -> r.completeExceptionally(failure)));
    replica.readsAwaitingIndex.clear();
    applier.execute(() -> {
      replica.parkedReads.forEach(p -> p.futures().forEach(r -> r.completeExceptionally(failure)));
      replica.parkedReads.clear();
    });
  }

  private void guarded(GroupReplica replica, Runnable work) {
    if (replica.failure != null) {
      return;
    }
    try {
      work.run();
    } catch (RuntimeException e) {
      replica.failure = e;
      log.error("partition {}: replica stopped after a failure", replica.partition, e);
      failWaiting(replica, "replica stopped: " + e.getMessage());
    }
  }

  private void failEverything() {
    for (GroupReplica replica : groups.values()) {
      failWaiting(replica, "node stopping");
    }
    Runnable task;
    while ((task = inbox.poll()) != null) {
      task.run();
    }
    flushProposals(); // fails what the inbox tasks queued
  }

  private DriverException notLeader(GroupReplica replica) {
    return new DriverException(
        DriverException.Kind.NOT_LEADER,
        replica.partition,
        replica.raw.status().leaderId(),
        "node " + settings.nodeId() + " does not lead partition " + replica.partition);
  }

  // ---------------------------------------------------------------- outgoing messages

  /** Messages gathered per peer node, flushed as RaftBatch frames. */
  private final class Outbox {
    private final Map<Long, RaftBatch.Builder> batches = new HashMap<>();
    private final Map<Long, List<Integer>> groupsPerPeer = new HashMap<>();
    private final List<Runnable> afterSend = new ArrayList<>();

    private final Map<Long, Long> sizes = new HashMap<>();

    void add(long toNodeId, int partition, Message message) {
      GroupRaftMessage grouped =
          GroupRaftMessage.newBuilder()
              .setGroupId(partition)
              .setMessage(RaftMessageCodec.encode(message))
              .build();
      RaftBatch.Builder batch = batches.computeIfAbsent(toNodeId, id -> RaftBatch.newBuilder());
      // Running size (plus tag and length prefix per element) instead of re-serializing.
      long size = grouped.getSerializedSize() + 6L;
      long total = sizes.getOrDefault(toNodeId, 0L);
      if (batch.getMessagesCount() > 0 && total + size > settings.peerBatchSizeBytesMax()) {
        send(toNodeId, batch.build());
        batch.clear();
        total = 0;
      }
      batch.addMessages(grouped);
      sizes.put(toNodeId, total + size);
      groupsPerPeer.computeIfAbsent(toNodeId, id -> new ArrayList<>()).add(partition);
    }

    void flush() {
      for (Map.Entry<Long, RaftBatch.Builder> entry : batches.entrySet()) {
        if (entry.getValue().getMessagesCount() > 0) {
          send(entry.getKey(), entry.getValue().build());
        }
      }
      afterSend.forEach(Runnable::run);
    }

    private void send(long toNodeId, RaftBatch batch) {
      if (!sender.sendRaftBatch(toNodeId, batch)) {
        framesDropped.increment();
        for (int partition : groupsPerPeer.getOrDefault(toNodeId, List.of())) {
          GroupReplica replica = groups.get(partition);
          guarded(replica, () -> replica.raw.reportUnreachable(toNodeId));
        }
      }
    }
  }

  private void addMessages(Outbox outbox, GroupReplica replica, List<Message> messages) {
    for (Message message : messages) {
      if (message.type() == MessageType.SNAPSHOT) {
        shipper.ship(replica.partition, message, replica.store);
        snapshotsSent.increment();
      } else {
        outbox.add(message.to(), replica.partition, message);
      }
    }
  }

  private void installSnapshot(GroupReplica replica, Snapshot snapshot) {
    Path directory = Path.of(new String(snapshot.data(), StandardCharsets.UTF_8));
    List<Path> delivered = deliveredSnapshots.getOrDefault(replica.partition, new ArrayList<>());
    Invariants.check(
        delivered.remove(directory),
        "partition %d: snapshot to install from %s was not delivered",
        replica.partition,
        directory);
    delivered.forEach(MultiRaftDriver::deleteTree); // ignored by the core, superseded now
    delivered.clear();
    // The store consumes the directory; after a crash mid-install it finishes from it at open.
    long installed = replica.store.installSnapshot(directory).index();
    Invariants.check(
        installed == snapshot.metadata().index(),
        "partition %d: installed state %d, snapshot says %d",
        replica.partition,
        installed,
        snapshot.metadata().index());
    replica.appliedIndex = installed;
    releaseParkedReads(replica);
    snapshotsInstalled.increment();
    log.info("partition {}: snapshot at {} installed", replica.partition, installed);
  }

  private static void deleteTree(Path directory) {
    if (!Files.exists(directory)) {
      return;
    }
    try (var paths = Files.walk(directory)) {
      for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(path);
      }
    } catch (IOException e) {
      log.warn("could not delete {}", directory, e);
    }
  }

  @Override
  public void close() {
    running = false;
    // Wake the loop without interrupting it: an interrupt could land inside a storage write.
    inbox.offer(() -> {});
    try {
      thread.join(TimeUnit.SECONDS.toMillis(10));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    applier.close();
  }

  /** Partitions hosted here, in order. */
  public List<Integer> partitions() {
    return Collections.unmodifiableList(new ArrayList<>(groups.keySet()));
  }
}
