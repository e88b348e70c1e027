package io.ringkv.server.raft;

import io.ringkv.proto.internal.ChangeReplicasRequest;
import io.ringkv.proto.internal.ChangeReplicasResponse;
import io.ringkv.proto.internal.GroupConf;
import io.ringkv.proto.internal.GroupProgressResponse;
import io.ringkv.proto.internal.MemberProgress;
import io.ringkv.raft.ConfChange;
import io.ringkv.raft.ConfState;
import io.ringkv.raft.Invariants;
import io.ringkv.raft.ProposalDroppedException;
import io.ringkv.raft.RawNode;
import io.ringkv.raft.Role;
import io.ringkv.raft.SnapshotMetadata;
import io.ringkv.raft.Status;
import io.ringkv.storage.AppliedState;
import io.ringkv.storage.RaftLogStore;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.ToLongFunction;

/**
 * Membership changes of local replicas asked for by the meta leader's moves (driver thread only).
 *
 * <p>Design notes. A change is described by the configuration it must lead to, not by the step it
 * takes: if the leader's configuration already has that shape the request is answered at once
 * without proposing, so a coordinator that retries a step after a crash or a lost answer changes
 * nothing twice. A proposed change is answered once its entry is applied and the configuration is
 * no longer joint (a REPLACE_VOTER enters joint consensus and the leader leaves it by itself), so
 * the caller sees the final configuration. A leader that loses its role fails what waits on it
 * (outcome unknown: the caller asks again and gets the at-once answer if it took effect).
 */
final class ReplicaChanges {
  private static final org.slf4j.Logger log =
      org.slf4j.LoggerFactory.getLogger(ReplicaChanges.class);

  /** A proposed change waiting for its entry to be applied and the joint configuration left. */
  record Waiter(long index, CompletableFuture<ChangeReplicasResponse> future) {}

  private final long nodeId;

  ReplicaChanges(long nodeId) {
    this.nodeId = nodeId;
  }

  /** What a request asks of configuration {@code conf}: nothing (already so), or one change. */
  record Decision(boolean satisfied, ConfChange change) {}

  /**
   * Pure: the change that brings {@code conf} to what {@code request} asks for, or "satisfied".
   *
   * @throws IllegalArgumentException a malformed request
   * @throws IllegalStateException the configuration is joint (another change is finishing)
   */
  static Decision decide(ConfState conf, ChangeReplicasRequest request) {
    long add = request.getAddNode();
    long remove = request.getRemoveNode();
    switch (request.getOperation()) {
      case ADD_LEARNER -> {
        require(add > 0 && remove == 0, "ADD_LEARNER needs add_node and no remove_node");
        if (conf.voters().contains(add) || conf.learners().contains(add)) {
          return new Decision(true, null);
        }
        refuseJoint(conf);
        return new Decision(false, ConfChange.addLearner(add));
      }
      case REPLACE_VOTER -> {
        require(add > 0 || remove > 0, "REPLACE_VOTER needs add_node or remove_node");
        require(add != remove, "REPLACE_VOTER cannot add and remove the same node");
        boolean added = add == 0 || conf.voters().contains(add);
        boolean removed = remove == 0 || !isMember(conf, remove);
        if (added && removed && !conf.isJoint()) {
          return new Decision(true, null);
        }
        refuseJoint(conf);
        List<ConfChange.Operation> operations = new ArrayList<>();
        if (!added) {
          operations.add(new ConfChange.Operation(ConfChange.OperationType.ADD_VOTER, add));
        }
        if (!removed) {
          operations.add(new ConfChange.Operation(ConfChange.OperationType.REMOVE_MEMBER, remove));
        }
        // AUTO: one voter changed is applied directly; a swap enters joint consensus, left alone.
        return new Decision(false, new ConfChange(ConfChange.Transition.AUTO, operations));
      }
      case REMOVE_MEMBER -> {
        require(remove > 0 && add == 0, "REMOVE_MEMBER needs remove_node and no add_node");
        if (!isMember(conf, remove)) {
          return new Decision(true, null);
        }
        refuseJoint(conf);
        return new Decision(false, ConfChange.removeMember(remove));
      }
      default -> throw new IllegalArgumentException("unknown operation " + request.getOperation());
    }
  }

  private static void require(boolean condition, String message) {
    if (!condition) {
      throw new IllegalArgumentException(message);
    }
  }

  private static void refuseJoint(ConfState conf) {
    if (conf.isJoint()) {
      throw new IllegalStateException(
          "the group is in a joint configuration (a change is finishing); ask again");
    }
  }

  static boolean isMember(ConfState conf, long node) {
    return conf.voters().contains(node)
        || conf.learners().contains(node)
        || conf.votersOutgoing().contains(node)
        || conf.learnersNext().contains(node);
  }

  static GroupConf toProto(ConfState conf) {
    return GroupConf.newBuilder()
        .addAllVoters(conf.voters())
        .addAllLearners(conf.learners())
        .addAllVotersOutgoing(conf.votersOutgoing())
        .addAllLearnersNext(conf.learnersNext())
        .build();
  }

  /** Driver thread: answers at once, proposes, or fails {@code future}. */
  void change(
      GroupReplica replica,
      ChangeReplicasRequest request,
      CompletableFuture<ChangeReplicasResponse> future) {
    Status status = replica.raw.status();
    if (status.role() != Role.LEADER) {
      future.completeExceptionally(notLeader(replica, status));
      return;
    }
    Decision decision;
    try {
      decision = decide(status.confState(), request);
    } catch (IllegalArgumentException | IllegalStateException e) {
      future.completeExceptionally(e);
      return;
    }
    if (decision.satisfied()) {
      future.complete(response(status, 0));
      return;
    }
    if (addsNewMember(status.confState(), decision.change())) {
      ensureSnapshotPoint(replica);
    }
    try {
      replica.raw.proposeConfChange(decision.change());
    } catch (ProposalDroppedException e) {
      future.completeExceptionally(
          new DriverException(
              DriverException.Kind.UNAVAILABLE,
              replica.partition,
              status.leaderId(),
              "configuration change refused for now: " + e.getMessage()));
      return;
    }
    long index = replica.raw.status().lastIndex();
    Invariants.check(
        index > status.lastIndex(), "conf change of %d not appended", replica.partition);
    replica.confWaiters.add(new Waiter(index, future));
  }

  static boolean addsNewMember(ConfState conf, ConfChange change) {
    for (ConfChange.Operation operation : change.operations()) {
      long member = operation.memberId();
      if (operation.type() != ConfChange.OperationType.REMOVE_MEMBER
          && !conf.voters().contains(member)
          && !conf.learners().contains(member)) {
        return true;
      }
    }
    return false;
  }

  /**
   * A replica created empty can learn its group's configuration only from a snapshot: the first
   * configuration was written at bootstrap, not as log entries, so replaying the log from index 1
   * would start from no voters at all (and fail at the first change). So a replica whose log was
   * never compacted compacts it through its applied index when it takes in a change that adds a
   * member (every replica does, when the change is handed out for applying: any of them may lead
   * the newcomer's catch-up later), and the leader also before proposing one. The newcomer's
   * catch-up then starts with a snapshot. Only young groups pay this; others have compacted.
   */
  static void ensureSnapshotPoint(GroupReplica replica) {
    RaftLogStore raftLog = replica.log;
    // The store's applied state: its index and the configuration as of that index (the core's
    // configuration may already include changes handed out but not yet applied).
    AppliedState state = replica.store.appliedState();
    long applied = state.index();
    // A store records a configuration once it applied a change or installed a snapshot; until then
    // the group still has the configuration it was bootstrapped with.
    ConfState conf =
        state.confState().voters().isEmpty()
            ? raftLog.initialState().confState()
            : state.confState();
    if (!raftLog.snapshot().isEmpty()
        || applied < raftLog.firstIndex()
        || applied > raftLog.lastIndex()
        || conf.voters().isEmpty()) {
      return;
    }
    raftLog.saveSnapshot(new SnapshotMetadata(applied, raftLog.term(applied), conf));
    raftLog.compact(applied);
    log.info(
        "partition {}: log compacted through {} so a new member starts from a snapshot",
        replica.partition,
        applied);
  }

  /**
   * Driver thread, after every iteration: answers waiters whose change is applied and final; fails
   * them all when the replica no longer leads.
   */
  void check(Collection<GroupReplica> groups) {
    for (GroupReplica replica : groups) {
      if (replica.confWaiters.isEmpty()) {
        continue;
      }
      Status status = replica.raw.status();
      Iterator<Waiter> waiters = replica.confWaiters.iterator();
      while (waiters.hasNext()) {
        Waiter waiter = waiters.next();
        if (waiter.future().isDone()) {
          waiters.remove();
        } else if (replica.appliedIndex >= waiter.index() && !status.confState().isJoint()) {
          waiter.future().complete(response(status, waiter.index()));
          waiters.remove();
        } else if (status.role() != Role.LEADER || replica.failure != null) {
          waiter
              .future()
              .completeExceptionally(
                  new DriverException(
                      DriverException.Kind.UNAVAILABLE,
                      replica.partition,
                      status.leaderId(),
                      "leadership lost while the configuration change was pending (outcome"
                          + " unknown: ask again)"));
          waiters.remove();
        }
      }
    }
  }

  /** Fails every waiter of a replica that goes away. */
  static void failAll(GroupReplica replica, RuntimeException failure) {
    replica.confWaiters.forEach(waiter -> waiter.future().completeExceptionally(failure));
    replica.confWaiters.clear();
  }

  private ChangeReplicasResponse response(Status status, long index) {
    return ChangeReplicasResponse.newBuilder()
        .setConf(toProto(status.confState()))
        .setLeaderNodeId(status.leaderId())
        .setIndex(index)
        .build();
  }

  private DriverException notLeader(GroupReplica replica, Status status) {
    return new DriverException(
        DriverException.Kind.NOT_LEADER,
        replica.partition,
        status.leaderId(),
        "node " + nodeId + " does not lead group " + replica.partition);
  }

  /** Driver thread: the local replica's view, with members' progress when it leads. */
  static GroupProgressResponse progress(GroupReplica replica, ToLongFunction<Integer> bytes) {
    Status status = replica.raw.status();
    GroupProgressResponse.Builder response =
        GroupProgressResponse.newBuilder()
            .setHosted(true)
            .setConf(toProto(status.confState()))
            .setLeaderNodeId(status.leaderId())
            .setTerm(status.term())
            .setCommitIndex(status.commitIndex())
            .setAppliedIndex(replica.appliedIndex)
            .setApproximateBytes(bytes.applyAsLong(replica.partition));
    for (RawNode.MemberProgress member : replica.raw.memberProgress()) {
      response.addProgress(
          MemberProgress.newBuilder()
              .setNodeId(member.memberId())
              .setMatchIndex(member.matchIndex())
              .setSnapshotPending(member.snapshotPending()));
    }
    return response.build();
  }
}
