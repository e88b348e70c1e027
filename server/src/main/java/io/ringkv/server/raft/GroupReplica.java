package io.ringkv.server.raft;

import io.ringkv.raft.Invariants;
import io.ringkv.raft.RawNode;
import io.ringkv.raft.Ready;
import io.ringkv.raft.Role;
import io.ringkv.storage.PartitionStore;
import io.ringkv.storage.RaftLogStore;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One local replica of one partition. The driver thread owns the Raft core and everything not
 * marked otherwise; the apply thread owns {@link #parkedReads}; {@link #pending}, {@link
 * #appliedIndex} and {@link #failure} are shared.
 */
final class GroupReplica {
  /** A client waiting for its proposal to be applied. */
  record Pending(CompletableFuture<ProposalOutcome> future, long proposedAtNanos) {}

  /** A proposal taken from the inbox, proposed with the others of its iteration in one batch. */
  record Proposal(long requestId, byte[] data, CompletableFuture<ProposalOutcome> future) {}

  /** Reads waiting for a read index to be applied. */
  record ParkedReads(long index, long term, List<CompletableFuture<Long>> futures) {}

  final int partition;
  final RawNode raw;
  final RaftLogStore log;
  final PartitionStore store;
  final PartitionStateMachine stateMachine;

  /** Proposals of this node waiting to be applied, by request id (driver adds, apply removes). */
  final Map<Long, Pending> pending = new ConcurrentHashMap<>();

  /** Proposals queued in this driver iteration, proposed together before taking the Ready. */
  final List<Proposal> queuedProposals = new ArrayList<>();

  /** Log index and time of this leader's proposals not yet seen committed (proposal-to-commit). */
  final ArrayDeque<long[]> proposedAt = new ArrayDeque<>();

  final List<CompletableFuture<Long>> queuedReads = new ArrayList<>();
  final Map<Long, List<CompletableFuture<Long>>> readsAwaitingIndex = new HashMap<>();

  /** Configuration changes proposed for the meta leader, waiting to be final (driver thread). */
  final List<ReplicaChanges.Waiter> confWaiters = new ArrayList<>();

  /** Reads waiting for the apply thread to reach their index (apply thread only). */
  final List<ParkedReads> parkedReads = new ArrayList<>();

  /** What the store has applied (written by the apply thread). */
  volatile long appliedIndex;

  /** The last committed index handed to the apply thread (driver thread). */
  long handedIndex;

  /** The Ready whose log write is with the group committer, or null (driver thread). */
  Ready writing;

  /** The store's applied index when the replica was opened. */
  final long appliedAtOpen;

  /** The last log index known to be durable on this node (written by a finished group commit). */
  long durableIndex;

  long knownLeader;

  /**
   * The last hybrid-logical-clock time this node stamped on a proposal of this partition (driver
   * thread): physical millis and logical counter.
   */
  long hlcPhysicalMillis;

  int hlcLogical;

  /** Leader balancing leaves this group alone until this tick (after a requested transfer). */
  long balanceAfterTick;

  Role knownRole = Role.FOLLOWER;

  /** Set when the replica stopped on a failure; it is no longer driven. */
  volatile Throwable failure;

  /** The destroyed replica's data deletion is queued (driver thread). */
  boolean destroyStarted;

  /** The stopped replica's status was withdrawn from the status board (driver thread). */
  boolean withdrawn;

  /**
   * Checks what must hold between the stages after every driver iteration (driver thread). A
   * violation throws; the caller stops this replica.
   */
  void checkInvariants() {
    long applied = appliedIndex;
    Invariants.check(
        applied <= handedIndex,
        "partition %d: applied %d past handed out %d",
        partition,
        applied,
        handedIndex);
    Invariants.check(
        applied >= appliedAtOpen,
        "partition %d: applied %d below %d found at open",
        partition,
        applied,
        appliedAtOpen);
    long commitIndex = raw.status().commitIndex();
    Invariants.check(
        handedIndex <= Math.max(commitIndex, appliedAtOpen),
        "partition %d: handed out %d past commit %d",
        partition,
        handedIndex,
        commitIndex);
    if (writing == null) {
      long lastIndex = log.lastIndex();
      Invariants.check(
          durableIndex == lastIndex,
          "partition %d: durable index %d but the stored log ends at %d",
          partition,
          durableIndex,
          lastIndex);
    }
  }

  GroupReplica(
      int partition,
      RawNode raw,
      RaftLogStore log,
      PartitionStore store,
      PartitionStateMachine stateMachine) {
    this.partition = partition;
    this.raw = raw;
    this.log = log;
    this.store = store;
    this.stateMachine = stateMachine;
    this.appliedIndex = store.appliedState().index();
    this.appliedAtOpen = appliedIndex;
    this.handedIndex = appliedIndex;
    this.durableIndex = log.lastIndex();
  }
}
