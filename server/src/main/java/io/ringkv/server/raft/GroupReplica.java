package io.ringkv.server.raft;

import io.ringkv.raft.RawNode;
import io.ringkv.raft.Role;
import io.ringkv.storage.PartitionStore;
import io.ringkv.storage.RaftLogStore;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/** One local replica of one partition, owned by the driver thread (never touched elsewhere). */
final class GroupReplica {
  /** A client waiting for its proposal to be applied. */
  record Pending(CompletableFuture<ProposalOutcome> future, long proposedAtNanos) {}

  /** Reads waiting for a read index to be applied. */
  record ParkedReads(long index, List<CompletableFuture<Long>> futures) {}

  final int partition;
  final RawNode raw;
  final RaftLogStore log;
  final PartitionStore store;
  final PartitionStateMachine stateMachine;
  final Map<Long, Pending> pending = new HashMap<>();
  final List<CompletableFuture<Long>> queuedReads = new ArrayList<>();
  final Map<Long, List<CompletableFuture<Long>>> readsAwaitingIndex = new HashMap<>();
  final List<ParkedReads> parkedReads = new ArrayList<>();
  long appliedIndex;

  /** The store's applied index when the replica was opened. */
  final long appliedAtOpen;

  /** The last log index known to be durable on this node (written by a finished group commit). */
  long durableIndex;

  long knownLeader;
  Role knownRole = Role.FOLLOWER;

  /** Set when the replica stopped on a failure; it is no longer driven. */
  Throwable failure;

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
    this.durableIndex = log.lastIndex();
  }
}
