package io.ringkv.server.raft;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.distribution.HistogramSnapshot;
import io.ringkv.proto.internal.ChangeReplicasRequest;
import io.ringkv.proto.internal.ChangeReplicasResponse;
import io.ringkv.proto.internal.Command;
import io.ringkv.proto.internal.GroupProgressResponse;
import io.ringkv.proto.internal.Heartbeats;
import io.ringkv.proto.internal.RaftBatch;
import io.ringkv.raft.Invariants;
import io.ringkv.raft.Message;
import io.ringkv.raft.RawNode;
import io.ringkv.raft.Role;
import io.ringkv.raft.Status;
import io.ringkv.server.config.SlowNodeSettings;
import io.ringkv.server.raft.DriverMetrics.DropReason;
import io.ringkv.server.transport.PeerMessageHandler;
import io.ringkv.storage.PartitionStore;
import io.ringkv.storage.StorageEngine;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.IntConsumer;
import java.util.function.IntSupplier;
import java.util.function.LongPredicate;
import java.util.function.LongSupplier;
import java.util.random.RandomGenerator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Drives every local replica of every partition from ONE thread: the node's multi-Raft loop.
 *
 * <p>Design notes. Other threads never touch a {@link RawNode}: gRPC handlers and the peer
 * transport hand work to a bounded inbox and get futures back. One iteration ({@link
 * #runOneIteration}): run the inbox (peer messages, proposals, reads) and the finished log writes,
 * tick every group if the single timer is due, propose each group's queued proposals as one batch,
 * issue one ReadIndex per group for all reads queued this iteration, let the {@link
 * PersistencePipeline} take the Readies, publish each replica's status and check its invariants.
 *
 * <p>The stages, each owning one thread's work: this class (the driver thread: inbox, ticks,
 * roles); {@link ClientRequests} (driver thread: proposal and ReadIndex batching); {@link
 * PeerInbox} (driver thread: checked delivery of received frames); {@link PersistencePipeline}
 * (driver thread: Readies, group commit submission, durability, back-pressure); {@link PeerOutbox}
 * (driver thread: frames per peer); {@link ReplicaApplier} (the apply thread, and the snapshot
 * installer beside it); {@link StatusBoard} (published statuses and per-iteration invariant
 * checks); {@link LeaderBalancer} and {@link ApplyBatchSplitter} (pure decisions); {@link
 * ReceivedSnapshots} (driver thread: scratch directories); {@link DriverMetrics}. Time comes only
 * from the injected clocks, so a test can step a node.
 *
 * <p>A replica whose processing throws (a broken invariant, a storage failure) is stopped and
 * logged loudly by the {@link ReplicaGuard}; the other partitions keep running.
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
  private final LongSupplier nanoTime;

  /** Local replicas by group; the driver thread adds and removes, any thread looks up. */
  private final ConcurrentSkipListMap<Integer, GroupReplica> groups;

  private final StorageEngine engine;
  private final RandomGenerator random;
  private final int partitionCount;
  private final ReplicaChanges changes;

  /** Replicas taken out of {@link #groups} whose data is being deleted (driver thread). */
  private final Map<Integer, PendingDestroy> destroying = new HashMap<>();

  private record PendingDestroy(GroupReplica replica, CompletableFuture<Boolean> future) {}

  private volatile IntConsumer replicaDestroyed = group -> {};
  private final StatusBoard board;
  private final LinkedBlockingQueue<Runnable> inbox;

  /** Finished group commits and apply failures, run by the loop; never bounded, never lost. */
  private final ConcurrentLinkedQueue<Runnable> completions = new ConcurrentLinkedQueue<>();

  private final DriverMetrics metrics;
  private final ReplicaApplier applier;
  private final ReplicaGuard guard;
  private final ClientRequests requests;
  private final PeerInbox peerInbox;
  private final ReceivedSnapshots receivedSnapshots = new ReceivedSnapshots();
  private final PersistencePipeline pipeline;
  private final Thread thread;
  private volatile boolean running = true;
  private final long tickNanos;
  private long nextTickNanos;

  private LeaderBalancer balancer;
  private LongPredicate peerConnected = id -> false;
  private SlowNodeDetector slowNode;
  private IntSupplier healthScore = () -> 0;
  private Consumer<Boolean> slowChanged = slow -> {};
  private final LatencyWindow fsyncWindow = new LatencyWindow();
  private volatile boolean slow;
  private long ticks;

  /**
   * Opens every local replica (bootstrapping a new group's configuration to {@code voters} on first
   * start) and prepares the loop; {@link #start} runs it.
   *
   * @param replicas group -> voters, for the groups this node bootstraps (new groups get this
   *     configuration; every group the store already holds is opened as well)
   * @param partitionCount data partitions; groups 0 .. partitionCount (the last is the meta group)
   *     may be hosted
   * @param clock wall time stamped on proposals (the state machine's only clock)
   * @param nanoTime monotonic time for the tick timer and latencies
   */
  public MultiRaftDriver(
      DriverSettings settings,
      StorageEngine engine,
      Map<Integer, List<Long>> replicas,
      int partitionCount,
      Clock clock,
      LongSupplier nanoTime,
      RandomGenerator random,
      MeterRegistry registry) {
    this.settings = settings;
    this.nanoTime = nanoTime;
    this.engine = engine;
    this.random = random;
    this.partitionCount = partitionCount;
    this.changes = new ReplicaChanges(settings.nodeId());
    this.inbox = new LinkedBlockingQueue<>(settings.inboxTasksMax());
    this.metrics = new DriverMetrics(registry);
    this.balancer = new LeaderBalancer(settings.nodeId(), 0);
    this.applier =
        new ReplicaApplier(
            settings.nodeId(),
            settings.applyQueueBytesMax(),
            new ApplyBatchSplitter(
                engine.options().batchEntriesMax(), engine.options().batchSizeBytesMax()),
            metrics,
            nanoTime,
            this::onDriverThread);
    metrics.registerApplyQueueGauge(applier::queuedBytes);
    this.guard = new ReplicaGuard(applier::execute);
    this.board = new StatusBoard(partitionCount + 1, guard, metrics);
    this.peerInbox =
        new PeerInbox(
            settings.nodeId(), this::replica, guard, metrics, () -> balancer.holdUntil(ticks));
    this.requests =
        new ClientRequests(
            settings.nodeId(),
            settings.inflightProposalsPerPartitionMax(),
            clock,
            nanoTime,
            guard,
            metrics,
            random.nextLong() & Long.MAX_VALUE); // request ids unique across restarts
    this.pipeline =
        new PersistencePipeline(
            engine.groupCommitter(),
            guard,
            applier,
            receivedSnapshots,
            metrics,
            nanoTime,
            this::onDriverThread,
            settings.logCompactionEntries(),
            settings.applyQueueBytesMax());
    this.tickNanos = TimeUnit.MILLISECONDS.toNanos(settings.tickMillis());
    this.groups =
        new ConcurrentSkipListMap<>(ReplicaOpener.open(settings, engine, replicas, random));
    for (int group : groups.keySet()) {
      Invariants.check(
          board.covers(group), "group %d beyond the meta group %d", group, partitionCount);
    }
    groups.values().forEach(board::publish);
    board.registerGauges(groups.keySet());
    this.thread = new Thread(this::loop, "ringkv-raft-driver");
    this.thread.setDaemon(true);
  }

  /**
   * Turns on leader balancing (before {@link #start}): every {@code intervalTicks} ticks, each
   * partition this node leads is handed to its preferred replica (see {@link #preferredLeader})
   * when that replica is connected; see {@link LeaderBalancer}.
   */
  public void enableLeaderBalancing(long intervalTicks, LongPredicate connected) {
    Invariants.check(intervalTicks >= 1, "balance interval must be >= 1 tick");
    this.balancer = new LeaderBalancer(settings.nodeId(), intervalTicks);
    this.peerConnected = connected;
  }

  /**
   * Turns on slow-node awareness (before {@link #start}; works on the leader balance period, so
   * only with balancing on): at each balance period the node judges itself by {@code healthScore}
   * (gossip's Lifeguard score) and its group-commit p99 over the period; while slow it hands every
   * partition it leads to a healthy replica, and {@code slowChanged} hears each change (the node
   * tells gossip, so the others stop handing leaderships to it). See {@link SlowNodeDetector}.
   */
  public void enableSlowNodeAwareness(
      SlowNodeSettings settings, IntSupplier healthScore, Consumer<Boolean> slowChanged) {
    this.slowNode = new SlowNodeDetector(settings);
    this.healthScore = healthScore;
    this.slowChanged = slowChanged;
    metrics.registerSlowGauge(() -> slow);
  }

  /** Whether this node counts itself slow as of the last balance period. */
  public boolean isSlow() {
    return slow;
  }

  /** The replica that should lead {@code partition} (see {@link LeaderBalancer}). */
  public static long preferredLeader(int partition, Collection<Long> voters) {
    return LeaderBalancer.preferredLeader(partition, voters);
  }

  /**
   * Starts the loop; frames to peers go through {@code peerSender}, snapshots through {@code
   * snapshotShipper}.
   */
  public MultiRaftDriver start(PeerSender peerSender, SnapshotShipper snapshotShipper) {
    attach(peerSender, snapshotShipper);
    thread.start();
    return this;
  }

  /**
   * Connects the outgoing side and starts the apply thread without starting the driver thread: a
   * test then steps the node with {@link #runOneIteration}.
   */
  void attach(PeerSender peerSender, SnapshotShipper snapshotShipper) {
    pipeline.start(
        new PeerOutbox(
            settings.peerBatchSizeBytesMax(),
            peerSender,
            snapshotShipper,
            groups::get,
            guard,
            metrics));
    applier.start(guard);
    nextTickNanos = nanoTime.getAsLong() + tickNanos;
  }

  /** The local replica of {@code partition} (tests that step the driver). */
  GroupReplica replica(int partition) {
    return groups.get(partition);
  }

  // ---------------------------------------------------------------- API for other threads

  public boolean hosts(int partition) {
    return groups.containsKey(partition);
  }

  /**
   * Tells {@code listener} (on the apply thread) of every apply and snapshot install of every local
   * replica from now on.
   */
  public void setAppliedListener(AppliedListener listener) {
    applier.setAppliedListener(listener);
  }

  /**
   * What the local replica of {@code partition} has applied (its store holds the data and change
   * records up to it), or -1 when it is not hosted here.
   */
  public long appliedIndex(int partition) {
    GroupReplica replica = groups.get(partition);
    return replica == null ? -1 : replica.appliedIndex;
  }

  /** The last published status of the local replica of {@code partition}, or null. */
  public GroupStatus status(int partition) {
    return board.get(partition);
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
    submit(partition, future, replica -> requests.propose(replica, command, future));
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
          requests.read(replica, future);
        });
    return future;
  }

  /**
   * ReadIndex on any local replica, leader or follower (a follower asks its leader for the commit
   * index): completes with the term once the local replica applied at least the leader's commit
   * index as of the call. A follower that knows no leader drops the request, so callers bound their
   * wait.
   */
  public CompletableFuture<Long> readIndexOnAnyReplica(int partition) {
    CompletableFuture<Long> future = new CompletableFuture<>();
    submit(partition, future, replica -> requests.readOnAnyReplica(replica, future));
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
            future.completeExceptionally(requests.notLeader(replica));
          } else {
            replica.raw.transferLeader(target);
            replica.balanceAfterTick = balancer.holdUntil(ticks);
            future.complete(null);
          }
        });
    return future;
  }

  private void submit(int partition, CompletableFuture<?> future, Consumer<GroupReplica> work) {
    GroupReplica replica = groups.get(partition);
    if (replica == null) {
      future.completeExceptionally(
          new DriverException(DriverException.Kind.NOT_HOSTED, partition, 0, "not hosted here"));
      return;
    }
    Runnable task =
        () -> {
          if (replica.failure != null) {
            future.completeExceptionally(ReplicaGuard.stopped(replica));
          } else {
            work.accept(replica);
          }
        };
    onDriverThreadOrFail(partition, future, task);
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
          receivedSnapshots.delivered(partition, directory);
          guard.run(replica, () -> replica.raw.step(message));
          done.complete(null);
        });
    done.whenComplete((ignored, failure) -> {
      if (failure != null) {
        ReceivedSnapshots.deleteTree(directory);
      }
    });
  }

  /**
   * Stops the local replica of {@code partition} as if it had failed: it is no longer driven, what
   * waits on it fails, and it is published as stopped. For replicas found damaged, and for tests of
   * a failed replica.
   */
  public CompletableFuture<Void> stopReplica(int partition, String reason) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    submit(
        partition,
        done,
        replica -> {
          guard.run(
              replica,
              () -> {
                throw new DriverException(
                    DriverException.Kind.UNAVAILABLE, partition, 0, "stopped: " + reason);
              });
          done.complete(null);
        });
    return done;
  }

  /** Tells the core of {@code partition} how the snapshot transfer to {@code toNodeId} ended. */
  public void reportSnapshot(int partition, long toNodeId, boolean success) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    submit(
        partition,
        done,
        replica -> {
          guard.run(replica, () -> replica.raw.reportSnapshot(toNodeId, success));
          done.complete(null);
        });
  }

  @Override
  public void onRaftBatch(long fromNodeId, RaftBatch batch) {
    if (!inbox.offer(() -> peerInbox.deliver(fromNodeId, batch))) {
      metrics.dropped(DropReason.INBOX_FULL);
    }
  }

  @Override
  public void onHeartbeats(long fromNodeId, Heartbeats heartbeats) {
    // This driver sends heartbeats inside RaftBatch frames; a Heartbeats frame is not expected.
    metrics.dropped(DropReason.HEARTBEATS_FRAME);
  }

  /** Runs {@code task} on the driver thread soon, and wakes it (any thread). */
  private void onDriverThread(Runnable task) {
    completions.add(task);
    inbox.offer(() -> {}); // if the inbox is full the loop is awake anyway
  }

  // ---------------------------------------------------------------- the loop

  private void loop() {
    while (running) {
      try {
        awaitWork();
        runOneIteration();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      } catch (RuntimeException | Error e) {
        // Per-group failures are contained by the guard; anything reaching here is a driver bug.
        log.error("driver iteration failed", e);
      }
    }
    failEverything();
  }

  /** Waits until the inbox has work, a log write finished, or the next tick is due. */
  private void awaitWork() throws InterruptedException {
    long waitNanos = nextTickNanos - nanoTime.getAsLong();
    if (!completions.isEmpty() || waitNanos <= 0) {
      return;
    }
    Runnable first = inbox.poll(waitNanos, TimeUnit.NANOSECONDS);
    if (first != null) {
      first.run();
    }
  }

  /**
   * One pass of the loop body, without waiting: inbox, finished writes, tick if due, proposals,
   * reads, Readies, roles and invariants. Driver thread only (or a test that attached the node
   * without starting its thread).
   */
  public void runOneIteration() {
    drainInbox();
    runCompletions();
    long now = nanoTime.getAsLong();
    if (now - nextTickNanos >= 0) {
      tickAll();
      int missedTicks = dueTicks(now) - 1;
      for (int tick = 0; tick < missedTicks; tick++) {
        tickLeaders();
      }
      nextTickNanos = now - nextTickNanos > tickNanos ? now + tickNanos : nextTickNanos + tickNanos;
    }
    requests.flushProposals(groups.values());
    requests.issueReads(groups.values());
    pipeline.takeReadies(groups.values());
    board.observe(groups.values());
    changes.check(groups.values());
    startDestroys();
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

  /**
   * Ticks to run now. A stall (GC, a slow disk call, a starved CPU) leaves ticks behind; a lease
   * leader that ran one tick after a long stall would count a lease in real time far beyond its
   * followers' election timeouts, so in lease mode leaders run every missed tick (at most an
   * election timeout's worth, which already ends every lease) before any read of this iteration is
   * issued. Followers keep the one-tick behaviour (a late follower only votes later, the safe side
   * of a lease), and so does ReadIndex mode, where late ticks only delay elections.
   */
  private int dueTicks(long now) {
    if (settings.readOnlyMode() != io.ringkv.raft.Config.ReadOnlyMode.LEASE_BASED) {
      return 1;
    }
    long behind = (now - nextTickNanos) / tickNanos;
    int dueTicks = (int) Math.min(1 + behind, settings.electionTimeoutTicks());
    Invariants.check(dueTicks >= 1, "a due tick runs");
    if (dueTicks > 1) {
      metrics.ticksCaughtUp.increment(dueTicks - 1);
    }
    return dueTicks;
  }

  /** A missed tick, run late on the groups this node leads (see {@link #dueTicks}). */
  private void tickLeaders() {
    for (GroupReplica replica : groups.values()) {
      if (replica.failure == null && replica.raw.role() == Role.LEADER) {
        guard.run(replica, replica.raw::tick);
      }
    }
  }

  private void tickAll() {
    ticks++;
    if (balancer.due(ticks)) {
      balanceLeaders();
    }
    for (GroupReplica replica : groups.values()) {
      if (replica.failure == null) {
        guard.run(replica, replica.raw::tick);
      }
      // Forget futures whose callers gave up (deadline), so nothing grows without bound.
      replica.pending.values().removeIf(pending -> pending.future().isDone());
      replica.readsAwaitingIndex.values().removeIf(list -> list.stream().allMatch(f -> f.isDone()));
    }
  }

  private void balanceLeaders() {
    List<LeaderBalancer.Candidate> candidates = new ArrayList<>();
    for (GroupReplica replica : groups.values()) {
      if (replica.failure != null) {
        continue;
      }
      Status status = replica.raw.status();
      candidates.add(
          new LeaderBalancer.Candidate(
              replica.partition,
              status.role() == Role.LEADER,
              status.leadTransferee(),
              status.confState().voters(),
              replica.balanceAfterTick));
    }
    boolean selfSlow = judgeSelf();
    for (LeaderBalancer.Transfer transfer :
        balancer.transfers(ticks, candidates, selfSlow, peerConnected)) {
      GroupReplica replica = groups.get(transfer.partition());
      log.debug(
          "partition {}: handing leadership to node {}", transfer.partition(), transfer.target());
      guard.run(replica, () -> replica.raw.transferLeader(transfer.target()));
      metrics.balanceTransfers.increment();
    }
  }

  private boolean judgeSelf() {
    if (slowNode == null) {
      return false;
    }
    HistogramSnapshot fsync = metrics.fsyncTimer.takeSnapshot();
    double p99Millis = fsyncWindow.p99Millis(fsync.histogramCounts(), fsync.count());
    int score = healthScore.getAsInt();
    boolean before = slowNode.slow();
    SlowNodeDetector.Verdict verdict =
        slowNode.check(TimeUnit.NANOSECONDS.toMillis(nanoTime.getAsLong()), score, p99Millis);
    if (slowNode.slow() != before) {
      log.warn(
          "node {} {} (gossip health score {}, group-commit p99 {} ms this period)",
          settings.nodeId(),
          slowNode.slow()
              ? "counts itself slow (" + verdict + "): handing its leaderships to healthy replicas"
              : "has recovered: it may lead again",
          score,
          p99Millis);
      slow = slowNode.slow();
      slowChanged.accept(slow);
    }
    return slowNode.slow();
  }

  // ---------------------------------------------------------------- roles and failures

  private void failEverything() {
    DriverException stopping =
        new DriverException(DriverException.Kind.UNAVAILABLE, 0, 0, "node stopping");
    for (GroupReplica replica : groups.values()) {
      guard.failWaiting(replica, "node stopping");
      ReplicaChanges.failAll(replica, stopping);
    }
    // A destroy not finished is finished by nobody now; its data stays, and the replica with it.
    destroying.values().forEach(pending -> pending.future().completeExceptionally(stopping));
    Runnable task;
    while ((task = inbox.poll()) != null) {
      task.run();
    }
    requests.flushProposals(groups.values()); // fails what the inbox tasks queued
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

  // ---------------------------------------------------------------- replicas at run time

  /**
   * Creates an empty replica of {@code group} here (no configuration: it waits for its leader's
   * messages and snapshot), durably, so a restart reopens it. Completes with false when one exists.
   */
  public CompletableFuture<Boolean> createReplica(int group) {
    CompletableFuture<Boolean> future = new CompletableFuture<>();
    onDriverThreadOrFail(group, future, () -> create(group, future));
    return future;
  }

  private void create(int group, CompletableFuture<Boolean> future) {
    if (!board.covers(group)) {
      future.completeExceptionally(
          new IllegalArgumentException(
              "group " + group + " does not exist (0 .. " + partitionCount + ")"));
      return;
    }
    PendingDestroy pending = destroying.get(group);
    if (pending != null) {
      // Created again while its old data is being deleted: after that.
      pending
          .future()
          .whenComplete((ignored, failure) -> onDriverThread(() -> create(group, future)));
      return;
    }
    if (groups.containsKey(group)) {
      future.complete(false);
      return;
    }
    engine.markReplicaCreated(group);
    GroupReplica replica = ReplicaOpener.openOne(settings, engine, group, random);
    groups.put(group, replica);
    board.registerGauges(group);
    board.publish(replica);
    log.info("group {}: empty replica created", group);
    future.complete(true);
  }

  /**
   * Destroys the local replica of {@code group} and deletes its data durably. Refused (an {@link
   * IllegalStateException}) while its own configuration lists this node. What waits on it fails;
   * completes with false when there was none.
   */
  public CompletableFuture<Boolean> destroyReplica(int group) {
    CompletableFuture<Boolean> future = new CompletableFuture<>();
    onDriverThreadOrFail(group, future, () -> beginDestroy(group, future));
    return future;
  }

  private void beginDestroy(int group, CompletableFuture<Boolean> future) {
    PendingDestroy pending = destroying.get(group);
    if (pending != null) {
      pending
          .future()
          .whenComplete((ignored, failure) -> {
            if (failure != null) {
              future.completeExceptionally(failure);
            } else {
              future.complete(false);
            }
          });
      return;
    }
    GroupReplica replica = groups.get(group);
    if (replica == null) {
      future.complete(false);
      return;
    }
    io.ringkv.raft.ConfState conf = replica.raw.status().confState();
    if (replica.failure == null && ReplicaChanges.isMember(conf, settings.nodeId())) {
      future.completeExceptionally(
          new IllegalStateException(
              "group " + group + ": this node is still in its configuration " + conf));
      return;
    }
    groups.remove(group);
    DriverException gone =
        new DriverException(DriverException.Kind.UNAVAILABLE, group, 0, "replica destroyed");
    if (replica.failure == null) {
      replica.failure = gone; // nothing drives or applies it from now on
    }
    guard.failWaiting(replica, "replica destroyed");
    ReplicaChanges.failAll(replica, gone);
    board.withdraw(replica);
    destroying.put(group, new PendingDestroy(replica, future));
  }

  /**
   * Deletes destroyed replicas' data once no log write or snapshot install of theirs is in flight,
   * on the apply thread after every apply queued before (driver thread).
   */
  private void startDestroys() {
    for (PendingDestroy pending : destroying.values()) {
      GroupReplica replica = pending.replica();
      if (replica.writing != null || replica.destroyStarted) {
        continue;
      }
      replica.destroyStarted = true;
      applier.execute(() -> {
        Throwable failure = null;
        try {
          engine.destroyGroup(replica.partition);
        } catch (RuntimeException e) {
          failure = e;
        }
        Throwable outcome = failure;
        onDriverThread(() -> finishDestroy(pending, outcome));
      });
    }
  }

  private void finishDestroy(PendingDestroy pending, Throwable failure) {
    int group = pending.replica().partition;
    destroying.remove(group);
    if (failure != null) {
      log.error("group {}: deleting the destroyed replica's data failed", group, failure);
      pending.future().completeExceptionally(failure);
      return;
    }
    log.info("group {}: replica destroyed and its data deleted", group);
    replicaDestroyed.accept(group);
    pending.future().complete(true);
  }

  /**
   * Tells {@code listener} (on the driver thread) of each replica destroyed from now on, once its
   * data is gone (the changefeed ends its streams of that group).
   */
  public void setReplicaDestroyedListener(IntConsumer listener) {
    this.replicaDestroyed = listener;
  }

  /**
   * Proposes one configuration change on the local leader of {@code group} (NOT_LEADER {@link
   * DriverException} otherwise) and completes once it is applied and final; answers at once when
   * the configuration already is what the request asks for. A malformed request fails with {@link
   * IllegalArgumentException}, a joint configuration with {@link IllegalStateException}.
   */
  public CompletableFuture<ChangeReplicasResponse> changeReplicas(
      int group, ChangeReplicasRequest request) {
    CompletableFuture<ChangeReplicasResponse> future = new CompletableFuture<>();
    submit(group, future, replica -> changes.change(replica, request, future));
    return future;
  }

  /**
   * The local replica's view of {@code group} (members' match indexes when it leads); {@code
   * hosted} false when there is none.
   */
  public CompletableFuture<GroupProgressResponse> groupProgress(int group) {
    CompletableFuture<GroupProgressResponse> future = new CompletableFuture<>();
    onDriverThreadOrFail(
        group,
        future,
        () -> {
          GroupReplica replica = groups.get(group);
          if (replica == null || replica.failure != null) {
            future.complete(GroupProgressResponse.newBuilder().setHosted(false).build());
          } else {
            future.complete(ReplicaChanges.progress(replica, g -> engine.approximateDataBytes(g)));
          }
        });
    return future;
  }

  /**
   * Planted bug for the membership proof ({@code debug-move-skip-snapshot-data}): received
   * snapshots install their index, term and configuration but not their data.
   */
  public void enableDebugSkipSnapshotData() {
    log.warn("UNSAFE debug-move-skip-snapshot-data is on: received snapshots lose their data");
    applier.skipSnapshotData();
  }

  private void onDriverThreadOrFail(int group, CompletableFuture<?> future, Runnable work) {
    if (!running || !inbox.offer(work)) {
      metrics.dropped(DropReason.INBOX_FULL);
      future.completeExceptionally(
          new DriverException(
              DriverException.Kind.OVERLOADED, group, 0, "node driver queue full or closed"));
    }
  }

  /** Partitions hosted here, in order. */
  public List<Integer> partitions() {
    return Collections.unmodifiableList(new ArrayList<>(groups.keySet()));
  }
}
