package io.ringkv.server.membership;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.ringkv.proto.internal.ChangeReplicasRequest;
import io.ringkv.proto.internal.ChangeReplicasResponse;
import io.ringkv.proto.internal.ClusterMap;
import io.ringkv.proto.internal.ClusterMember;
import io.ringkv.proto.internal.CreateReplicaResponse;
import io.ringkv.proto.internal.DestroyReplicaResponse;
import io.ringkv.proto.internal.GroupConf;
import io.ringkv.proto.internal.GroupProgressResponse;
import io.ringkv.proto.internal.GroupReplicas;
import io.ringkv.proto.internal.MemberProgress;
import io.ringkv.proto.internal.ReplicaMove;
import io.ringkv.proto.v1.AddNodeRequest;
import io.ringkv.proto.v1.AddNodeResponse;
import io.ringkv.proto.v1.Member;
import io.ringkv.proto.v1.PlanRequest;
import io.ringkv.proto.v1.PlanResponse;
import io.ringkv.proto.v1.PlannedMove;
import io.ringkv.proto.v1.RemoveNodeRequest;
import io.ringkv.proto.v1.RemoveNodeResponse;
import io.ringkv.proto.v1.TransferLeaderResponse;
import io.ringkv.raft.Invariants;
import io.ringkv.server.config.MembershipSettings;
import io.ringkv.server.membership.MembershipMetrics.Why;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongUnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The membership coordinator: runs on the meta group's leader, changes the cluster map and moves
 * replicas until every group has the voters {@link MovePlanner} places.
 *
 * <p>Design. The map is the only state that matters: each move's phase is written to it (by
 * compare-and-set through {@link MapStore}) before the phase is acted on, and every action is
 * idempotent, so any coordinator, after any crash, resumes by reading the map and redoing the
 * current phase. In-memory state (catch-up targets, destroy attempts) only saves work and may be
 * lost. Moves not yet started are not stored: each round recomputes the plan from the map, starts
 * what the cap allows (one move per group at a time, redundancy-restoring moves first) and so
 * converges whatever changes in between. Every map write bumps the epoch.
 *
 * <p>Phases of one move (group g, from_node F, to_node T): ADD_LEARNER creates an empty replica on
 * T and adds it as a learner; CATCH_UP waits until T's match index reaches the leader's commit
 * index as of the first poll; PROMOTE moves leadership off F if F leads, then replaces F by T in
 * one joint-consensus change; CLEANUP destroys F's replica (skipped when F is REMOVED, does not
 * answer, or keeps refusing) and records the new voters. F = 0 adds only; T = 0 removes only (it
 * starts at PROMOTE). A move whose T stops being ACTIVE before PROMOTE is aborted (learner removed,
 * its replica destroyed) and re-planned.
 *
 * <p>Errors. Returned futures fail with {@link StatusRuntimeException}: INVALID_ARGUMENT for bad
 * input (no address, unknown node id), FAILED_PRECONDITION for a refused change (with the reason in
 * the description), ABORTED when the map kept changing under a command, and the status of a failed
 * call to the node being added. Thread-safe: commands and rounds may overlap; the map's
 * compare-and-set orders them.
 */
public final class Rebalancer {
  private static final Logger log = LoggerFactory.getLogger(Rebalancer.class);

  /** Compare-and-set attempts of one operator command before it gives up with ABORTED. */
  public static final int COMMAND_MAP_WRITE_ATTEMPTS_MAX = 8;

  /**
   * Rounds a move stays in CLEANUP while its old node refuses the destroy (its replica still lists
   * itself, having missed the change) or does not answer; then the move finishes and the node
   * destroys the replica itself when it learns the map. A REMOVED old node is not asked at all.
   */
  public static final int CLEANUP_DESTROY_ATTEMPTS_MAX = 20;

  /**
   * Rounds a PROMOTE waits for leadership to leave the node being removed before it proposes the
   * change anyway (the transfer may be refused, e.g. by a node that cannot transfer that group).
   */
  public static final int LEADER_TRANSFER_ATTEMPTS_MAX = 10;

  /** Groups whose data size a plan asks for; beyond it bytes show as 0 (unknown). */
  public static final int PLAN_BYTES_QUERIES_MAX = 1024;

  /** The cluster map as stored in the meta group, and the revision its compare-and-set checks. */
  public interface MapStore {
    record Versioned(ClusterMap map, long revision) {}

    /** The stored map (a linearizable read on the meta group). */
    CompletableFuture<Versioned> read();

    /**
     * Writes {@code next} if the map's revision is still {@code expectedRevision}; true if written.
     * After a write the implementation hands the map to every member (PushClusterMap).
     */
    CompletableFuture<Boolean> compareAndSet(long expectedRevision, ClusterMap next);
  }

  /** What a node says of itself (Cluster.Status and Members of the address asked). */
  public record NodeIdentity(
      long nodeId, String clusterId, String clientAddress, String peerAddress) {}

  /**
   * The replica operations on nodes. Futures fail with gRPC statuses: UNAVAILABLE or
   * DEADLINE_EXCEEDED when the node does not answer, FAILED_PRECONDITION when it refuses.
   */
  public interface ReplicaOps {
    /** Asks the node at {@code clientAddress} who it is (used by AddNode and Plan --join). */
    CompletableFuture<NodeIdentity> describeNode(String clientAddress);

    /** ReplicaAdmin.CreateReplica on {@code node}, giving it {@code map}. */
    CompletableFuture<CreateReplicaResponse> createReplica(long node, int group, ClusterMap map);

    /** ReplicaAdmin.DestroyReplica on {@code node}. */
    CompletableFuture<DestroyReplicaResponse> destroyReplica(long node, int group, long epoch);

    /** ReplicaAdmin.ChangeReplicas on the group's leader (following NOT_LEADER hints). */
    CompletableFuture<ChangeReplicasResponse> changeReplicas(
        int group, ChangeReplicasRequest request);

    /** ReplicaAdmin.GroupProgress from the group's leader (with every member's match index). */
    CompletableFuture<GroupProgressResponse> groupProgress(int group);

    /** Cluster.TransferLeader of the group to {@code toNode}. */
    CompletableFuture<TransferLeaderResponse> transferLeader(int group, long toNode);
  }

  /** What one round did; {@code map} is the map it wrote, or the one it read if it wrote none. */
  public record Round(
      ClusterMap map, boolean written, int movesAdvanced, int movesStarted, int movesFinished) {}

  private enum Step {
    /** Not done yet (or failed): the same phase is acted on again next round. */
    STAY,
    /** The phase's action is done: record the next phase (after CLEANUP: finish the move). */
    NEXT,
    /** Aborted: drop the move without recording voters. */
    DROP
  }

  @FunctionalInterface
  private interface MapChange {
    /** The changed map (epoch not yet set), or {@code map} itself when nothing changes. */
    ClusterMap apply(ClusterMap map, long nextEpoch);
  }

  private final MapStore store;
  private final ReplicaOps ops;
  private final MembershipSettings settings;
  private final Clock clock;
  private final LongUnaryOperator deadForMillis;
  private final MembershipMetrics metrics;
  private final Map<String, Long> catchUpTargets = new ConcurrentHashMap<>();
  private final Map<String, Integer> destroyAttempts = new ConcurrentHashMap<>();
  private final Map<String, Integer> transferAttempts = new ConcurrentHashMap<>();
  private final Set<Long> replacementRefusalsLogged = ConcurrentHashMap.newKeySet();
  private CompletableFuture<Round> roundInFlight;

  /**
   * @param store the map in the meta group
   * @param ops replica operations on the nodes
   * @param settings rebalance-moves-concurrent-max and dead-node-replace-after-millis are used
   * @param clock stamps planned_at_millis
   * @param deadForMillis for a node id, how long gossip has held it dead, or -1 if it does not
   * @param metrics counts moves and observes the map each round
   */
  public Rebalancer(
      MapStore store,
      ReplicaOps ops,
      MembershipSettings settings,
      Clock clock,
      LongUnaryOperator deadForMillis,
      MembershipMetrics metrics) {
    this.store = store;
    this.ops = ops;
    this.settings = settings;
    this.clock = clock;
    this.deadForMillis = deadForMillis;
    this.metrics = metrics;
  }

  // ---- operator commands ----

  /**
   * Cluster.AddNode: asks the node at {@code client_address} its id and peer address, adds it
   * ACTIVE (a repeat for a member already ACTIVE at that address changes nothing; a DECOMMISSIONING
   * member becomes ACTIVE again), and answers with the moves that follow (they run in later
   * rounds). Refused for a REMOVED id, another cluster, or an address or id in use.
   */
  public CompletableFuture<AddNodeResponse> addNode(AddNodeRequest request) {
    if (request.getClientAddress().isBlank()) {
      return failed(invalid("client_address is required: the new node's host:port"));
    }
    CompletableFuture<AddNodeResponse> result =
        ops.describeNode(request.getClientAddress())
            .thenCompose(described -> {
              NodeIdentity identity = checkedIdentity(request, described);
              return update((map, epoch) -> withJoined(map, identity, epoch), 0)
                  .thenCompose(map ->
                      plannedWithBytes(map)
                          .thenApply(moves ->
                              AddNodeResponse.newBuilder()
                                  .setMapEpoch(map.getEpoch())
                                  .addAllMembers(apiMembers(map))
                                  .addAllMoves(moves)
                                  .setNodeId(identity.nodeId())
                                  .build()));
            });
    return unwrapped(result);
  }

  /**
   * Cluster.RemoveNode: without {@code dead}, marks the node DECOMMISSIONING (its replicas move off
   * while it serves; it becomes REMOVED when it holds none); with {@code dead}, marks it REMOVED at
   * once (its replicas are re-created elsewhere, its copies are not destroyed). Refused when fewer
   * than replication-factor ACTIVE members would remain. Repeats change nothing.
   */
  public CompletableFuture<RemoveNodeResponse> removeNode(RemoveNodeRequest request) {
    long nodeId = request.getNodeId();
    if (nodeId == 0) {
      return failed(invalid("node_id is required"));
    }
    CompletableFuture<RemoveNodeResponse> result =
        update((map, epoch) -> withRemoved(map, nodeId, request.getDead(), epoch), 0)
            .thenCompose(map ->
                plannedWithBytes(map)
                    .thenApply(moves ->
                        RemoveNodeResponse.newBuilder()
                            .setMapEpoch(map.getEpoch())
                            .addAllMembers(apiMembers(map))
                            .addAllMoves(moves)
                            .build()));
    return unwrapped(result);
  }

  /**
   * Cluster.Plan: the moves a join of {@code join_address} or a decommission of {@code
   * remove_node_id} would lead to (with neither: the moves still to do), changing nothing. A change
   * that would be refused answers with {@code refusal} set and no moves.
   */
  public CompletableFuture<PlanResponse> plan(PlanRequest request) {
    CompletableFuture<PlanResponse> result =
        store
            .read()
            .thenCompose(read -> {
              ClusterMap map = read.map();
              return switch (request.getChangeCase()) {
                case JOIN_ADDRESS ->
                    ops.describeNode(request.getJoinAddress())
                        .thenCompose(identity ->
                            planOf(
                                map,
                                (current, epoch) -> withJoined(current, identity, epoch),
                                true));
                case REMOVE_NODE_ID ->
                    planOf(
                        map,
                        (current, epoch) ->
                            withRemoved(current, request.getRemoveNodeId(), false, epoch),
                        false);
                default -> planOf(map, (current, epoch) -> current, false);
              };
            });
    return unwrapped(result);
  }

  // ---- the coordinator loop ----

  /**
   * One round: acts on every recorded move's phase (at most one phase each), then in one map write
   * records the phases done, finishes moves, marks finished decommissions and dead-node
   * replacements, and starts new moves up to rebalance-moves-concurrent-max. A lost compare-and-set
   * loses only this round's records; the next round redoes the (idempotent) steps. A call while a
   * round runs returns that round.
   */
  public synchronized CompletableFuture<Round> runOnce() {
    if (roundInFlight == null || roundInFlight.isDone()) {
      roundInFlight = unwrapped(store.read().thenCompose(this::round));
    }
    return roundInFlight;
  }

  private CompletableFuture<Round> round(MapStore.Versioned read) {
    ClusterMap map = read.map();
    List<CompletableFuture<Step>> steps = new ArrayList<>();
    for (ReplicaMove move : map.getMovesList()) {
      CompletableFuture<Step> step;
      try {
        step = act(map, move);
      } catch (RuntimeException e) {
        step = CompletableFuture.failedFuture(e);
      }
      steps.add(
          step.exceptionally(error -> {
            log.info("move {} stays in its phase: {}", describe(move), rootCause(error));
            return Step.STAY;
          }));
    }
    return CompletableFuture.allOf(steps.toArray(CompletableFuture[]::new))
        .thenCompose(ignored -> settle(read, steps.stream().map(CompletableFuture::join).toList()));
  }

  private CompletableFuture<Round> settle(MapStore.Versioned read, List<Step> steps) {
    ClusterMap map = read.map();
    long epoch = map.getEpoch() + 1;
    ClusterMap.Builder next = map.toBuilder().clearMoves();
    List<ReplicaMove> finished = new ArrayList<>();
    int advanced = 0;
    for (int i = 0; i < steps.size(); i++) {
      ReplicaMove move = map.getMoves(i);
      switch (steps.get(i)) {
        case STAY -> next.addMoves(move);
        case DROP -> log.info("move {} aborted: its target is no longer active", describe(move));
        case NEXT -> {
          if (move.getPhase() == ReplicaMove.Phase.CLEANUP) {
            GroupReplicas group = next.getGroups(move.getGroup());
            next.setGroups(
                move.getGroup(),
                GroupReplicas.newBuilder()
                    .addAllVoters(
                        MovePlanner.replaced(
                            group.getVotersList(), move.getFromNode(), move.getToNode()))
                    .setEpoch(epoch));
            finished.add(move);
          } else {
            next.addMoves(move.toBuilder().setPhase(nextPhase(move)));
            advanced++;
          }
        }
      }
    }
    ClusterMap settled = replaceDead(finishDecommissions(next.build(), epoch), epoch);
    List<ReplicaMove> starting = movesToStart(settled);
    int advancedCount = advanced;
    return withBytes(starting)
        .thenCompose(started -> {
          ClusterMap.Builder proposed = settled.toBuilder();
          for (ReplicaMove move : started) {
            proposed.addMoves(
                move.toBuilder()
                    .setPhase(firstPhase(move))
                    .setPlannedEpoch(epoch)
                    .setPlannedAtMillis(clock.millis()));
          }
          ClusterMap candidate = proposed.build();
          checkMoves(candidate, map);
          if (candidate.equals(map)) {
            observe(map);
            return CompletableFuture.completedFuture(new Round(map, false, 0, 0, 0));
          }
          ClusterMap written = candidate.toBuilder().setEpoch(epoch).build();
          return store
              .compareAndSet(read.revision(), written)
              .thenApply(ok -> recordRound(ok, map, written, finished, started, advancedCount));
        });
  }

  private Round recordRound(
      boolean written,
      ClusterMap read,
      ClusterMap next,
      List<ReplicaMove> finished,
      List<ReplicaMove> started,
      int advanced) {
    if (!written) {
      metrics.mapWriteLost();
      observe(read);
      return new Round(read, false, 0, 0, 0);
    }
    for (ReplicaMove move : started) {
      metrics.moveStarted(why(next, move));
      log.info(
          "move {} started: {}",
          describe(move.toBuilder().setPhase(firstPhase(move)).build()),
          move.getReason());
    }
    for (ReplicaMove move : finished) {
      metrics.moveFinished(why(read, move), move.getToNode() == 0 ? 0 : move.getBytesEstimate());
      log.info("move {} finished", describe(move));
    }
    // Memory of moves no longer recorded (finished or dropped here or by another coordinator).
    Set<String> recorded = new HashSet<>();
    for (ReplicaMove move : next.getMovesList()) {
      recorded.add(moveKey(move));
    }
    catchUpTargets.keySet().retainAll(recorded);
    destroyAttempts.keySet().retainAll(recorded);
    transferAttempts.keySet().retainAll(recorded);
    observe(next);
    return new Round(next, true, advanced, started.size(), finished.size());
  }

  // ---- phases ----

  private CompletableFuture<Step> act(ClusterMap map, ReplicaMove move) {
    boolean targetGone = move.getToNode() != 0 && !isActive(map, move.getToNode());
    return switch (move.getPhase()) {
      case ADD_LEARNER -> targetGone ? abort(map, move) : addLearner(map, move);
      case CATCH_UP -> targetGone ? abort(map, move) : catchUp(move);
      case PROMOTE -> promote(map, move);
      case CLEANUP -> cleanup(map, move);
      // Not written by this class; treated as "planned": the next phase is its first.
      default -> CompletableFuture.completedFuture(Step.NEXT);
    };
  }

  private CompletableFuture<Step> addLearner(ClusterMap map, ReplicaMove move) {
    return ops.createReplica(move.getToNode(), move.getGroup(), map)
        .thenCompose(created ->
            ops.changeReplicas(
                move.getGroup(),
                change(
                    map, move, ChangeReplicasRequest.Operation.ADD_LEARNER, move.getToNode(), 0)))
        .thenApply(response -> Step.NEXT);
  }

  private CompletableFuture<Step> catchUp(ReplicaMove move) {
    return ops.groupProgress(move.getGroup())
        .thenApply(progress -> {
          if (progress.getProgressCount() == 0) {
            return Step.STAY;
          }
          long target =
              catchUpTargets.computeIfAbsent(moveKey(move), key -> progress.getCommitIndex());
          for (MemberProgress member : progress.getProgressList()) {
            if (member.getNodeId() == move.getToNode()) {
              boolean caughtUp = member.getMatchIndex() >= target && !member.getSnapshotPending();
              return caughtUp ? Step.NEXT : Step.STAY;
            }
          }
          return Step.STAY;
        });
  }

  private CompletableFuture<Step> promote(ClusterMap map, ReplicaMove move) {
    return ops.groupProgress(move.getGroup())
        .thenCompose(progress -> {
          if (isFinal(progress.getConf(), move)) {
            return CompletableFuture.completedFuture(Step.NEXT);
          }
          long from = move.getFromNode();
          if (from != 0 && progress.getLeaderNodeId() == from && !transferGivenUp(move)) {
            // Leadership leaves the replica first, so the removal never ends a leader's term
            // in the middle of client traffic; the change is proposed next round.
            long heir = heir(map, progress.getConf(), move, transferAttempts.get(moveKey(move)));
            if (heir == 0) {
              log.warn("move {}: no voter to take leadership from {}", describe(move), from);
              return CompletableFuture.completedFuture(Step.STAY);
            }
            return ops.transferLeader(move.getGroup(), heir).thenApply(response -> Step.STAY);
          }
          return ops.changeReplicas(
                  move.getGroup(),
                  change(
                      map,
                      move,
                      ChangeReplicasRequest.Operation.REPLACE_VOTER,
                      move.getToNode(),
                      from))
              .thenApply(response -> isFinal(response.getConf(), move) ? Step.NEXT : Step.STAY);
        });
  }

  private CompletableFuture<Step> cleanup(ClusterMap map, ReplicaMove move) {
    long from = move.getFromNode();
    if (from == 0 || !isPresent(map, from)) {
      return CompletableFuture.completedFuture(Step.NEXT);
    }
    return ops.destroyReplica(from, move.getGroup(), map.getEpoch())
        .handle((response, error) -> {
          if (error == null) {
            return Step.NEXT;
          }
          // A refusal (its replica has not yet seen the change) or no answer (a restart, a
          // blip) usually passes: retry for a while rather than leave a stale copy behind.
          int attempts = destroyAttempts.merge(moveKey(move), 1, Integer::sum);
          if (attempts >= CLEANUP_DESTROY_ATTEMPTS_MAX) {
            log.warn(
                "move {}: node {} failed the destroy {} times ({}); finishing, it destroys"
                    + " the replica when it learns the map",
                describe(move),
                from,
                attempts,
                rootCause(error));
            return Step.NEXT;
          }
          return Step.STAY;
        });
  }

  /**
   * Counts one more round with leadership still on the leaving node; true once it has taken {@link
   * #LEADER_TRANSFER_ATTEMPTS_MAX} rounds: the change is then proposed with the leader in place
   * (Raft lets a leader commit its own removal and step down after), rather than a move that never
   * ends because leadership cannot be handed over.
   */
  private boolean transferGivenUp(ReplicaMove move) {
    int attempts = transferAttempts.merge(moveKey(move), 1, Integer::sum);
    if (attempts == LEADER_TRANSFER_ATTEMPTS_MAX) {
      log.warn(
          "move {}: leadership did not leave node {} in {} rounds; removing it as leader",
          describe(move),
          move.getFromNode(),
          attempts);
    }
    return attempts >= LEADER_TRANSFER_ATTEMPTS_MAX;
  }

  /** Takes back a learner whose node left before it became a voter. */
  private CompletableFuture<Step> abort(ClusterMap map, ReplicaMove move) {
    long to = move.getToNode();
    return ops.groupProgress(move.getGroup())
        .thenCompose(progress -> {
          if (!inConf(progress.getConf(), to)) {
            return CompletableFuture.completedFuture(null);
          }
          return ops.changeReplicas(
              move.getGroup(),
              change(map, move, ChangeReplicasRequest.Operation.REMOVE_MEMBER, 0, to));
        })
        .thenCompose(removed ->
            isPresent(map, to)
                ? ops.destroyReplica(to, move.getGroup(), map.getEpoch())
                    .handle((response, error) -> Step.DROP)
                : CompletableFuture.completedFuture(Step.DROP));
  }

  // ---- map changes ----

  private ClusterMap withJoined(ClusterMap map, NodeIdentity identity, long epoch) {
    if (!identity.clusterId().equals(map.getClusterId())) {
      throw refused(
          "the node at %s belongs to cluster '%s', not '%s'",
          identity.clientAddress(), identity.clusterId(), map.getClusterId());
    }
    if (identity.nodeId() <= 0) {
      throw refused("the node at %s did not say its node id", identity.clientAddress());
    }
    for (int i = 0; i < map.getMembersCount(); i++) {
      ClusterMember member = map.getMembers(i);
      boolean sameId = member.getNodeId() == identity.nodeId();
      boolean sameAddress = member.getClientAddress().equals(identity.clientAddress());
      if (sameId && member.getState() == ClusterMember.State.REMOVED) {
        throw refused(
            "node id %d was removed; ids are never reused: start the node with a new id",
            identity.nodeId());
      }
      if (sameId && !sameAddress) {
        throw refused(
            "node %d is already a member at %s", identity.nodeId(), member.getClientAddress());
      }
      if (sameId && member.getState() == ClusterMember.State.ACTIVE) {
        return map;
      }
      if (sameId) {
        return map.toBuilder()
            .setMembers(
                i,
                withState(
                    member,
                    ClusterMember.State.ACTIVE,
                    epoch,
                    "joined again by operator (decommission cancelled)"))
            .build();
      }
      if (sameAddress && member.getState() != ClusterMember.State.REMOVED) {
        throw refused(
            "address %s is member %d's, not node %d's",
            identity.clientAddress(), member.getNodeId(), identity.nodeId());
      }
    }
    return map.toBuilder()
        .addMembers(
            ClusterMember.newBuilder()
                .setNodeId(identity.nodeId())
                .setClientAddress(identity.clientAddress())
                .setPeerAddress(identity.peerAddress())
                .setState(ClusterMember.State.ACTIVE)
                .setStateEpoch(epoch)
                .setStateReason("joined by operator"))
        .build();
  }

  private ClusterMap withRemoved(ClusterMap map, long nodeId, boolean dead, long epoch) {
    int index = memberIndex(map, nodeId);
    if (index < 0) {
      throw invalid("node " + nodeId + " is not a member of the cluster");
    }
    ClusterMember member = map.getMembers(index);
    if (member.getState() == ClusterMember.State.REMOVED
        || (member.getState() == ClusterMember.State.DECOMMISSIONING && !dead)) {
      return map;
    }
    Optional<String> refusal = MovePlanner.removalRefusal(map, nodeId, dead);
    if (refusal.isPresent()) {
      throw refused("%s", refusal.get());
    }
    ClusterMember changed =
        dead
            ? withState(member, ClusterMember.State.REMOVED, epoch, "removed as dead by operator")
            : withState(
                member, ClusterMember.State.DECOMMISSIONING, epoch, "decommissioned by operator");
    return map.toBuilder().setMembers(index, changed).build();
  }

  /** DECOMMISSIONING members that hold no voter and take part in no move become REMOVED. */
  private static ClusterMap finishDecommissions(ClusterMap map, long epoch) {
    ClusterMap.Builder next = map.toBuilder();
    for (int i = 0; i < map.getMembersCount(); i++) {
      ClusterMember member = map.getMembers(i);
      if (member.getState() == ClusterMember.State.DECOMMISSIONING
          && !holdsAnything(map, member.getNodeId())) {
        next.setMembers(
            i, withState(member, ClusterMember.State.REMOVED, epoch, "decommission finished"));
        log.info("node {} decommissioned: it holds no replica", member.getNodeId());
      }
    }
    return next.build();
  }

  /**
   * Members gossip has held dead for dead-node-replace-after become REMOVED, if others can hold.
   */
  private ClusterMap replaceDead(ClusterMap map, long epoch) {
    long afterMillis = settings.deadNodeReplaceAfterMillis();
    if (afterMillis == 0) {
      return map;
    }
    ClusterMap current = map;
    for (int i = 0; i < map.getMembersCount(); i++) {
      ClusterMember member = current.getMembers(i);
      if (member.getState() == ClusterMember.State.REMOVED) {
        continue;
      }
      long deadMillis = deadForMillis.applyAsLong(member.getNodeId());
      if (deadMillis < afterMillis) {
        continue;
      }
      Optional<String> refusal = MovePlanner.removalRefusal(current, member.getNodeId(), true);
      if (refusal.isPresent()) {
        if (replacementRefusalsLogged.add(member.getNodeId())) {
          log.warn("node {} is dead but is not replaced: {}", member.getNodeId(), refusal.get());
        }
        continue;
      }
      String reason = "replaced: gossip held it dead for " + deadMillis + " ms";
      current =
          current.toBuilder()
              .setMembers(i, withState(member, ClusterMember.State.REMOVED, epoch, reason))
              .build();
      log.warn("node {} {}", member.getNodeId(), reason);
    }
    return current;
  }

  /**
   * The moves to start now: the plan's, at most one per group and none in a group with a move, up
   * to the cap; moves restoring redundancy (from a REMOVED node, or adding) go first.
   */
  private List<ReplicaMove> movesToStart(ClusterMap map) {
    int free = settings.rebalanceMovesConcurrentMax() - map.getMovesCount();
    if (free <= 0) {
      return List.of();
    }
    Set<Integer> busy = new HashSet<>();
    for (ReplicaMove move : map.getMovesList()) {
      busy.add(move.getGroup());
    }
    List<ReplicaMove> candidates = new ArrayList<>();
    for (ReplicaMove move : MovePlanner.plan(map, group -> 0)) {
      if (busy.add(move.getGroup())) {
        candidates.add(move);
      }
    }
    candidates.sort(Comparator.comparing(move -> restoresRedundancy(map, move) ? 0 : 1));
    return List.copyOf(candidates.subList(0, Math.min(free, candidates.size())));
  }

  private CompletableFuture<ClusterMap> update(MapChange change, int attempt) {
    return store
        .read()
        .thenCompose(read -> {
          long epoch = read.map().getEpoch() + 1;
          ClusterMap changed = change.apply(read.map(), epoch);
          if (changed == read.map()) {
            return CompletableFuture.completedFuture(read.map());
          }
          ClusterMap written = changed.toBuilder().setEpoch(epoch).build();
          return store
              .compareAndSet(read.revision(), written)
              .thenCompose(ok -> {
                if (ok) {
                  return CompletableFuture.completedFuture(written);
                }
                metrics.mapWriteLost();
                if (attempt + 1 >= COMMAND_MAP_WRITE_ATTEMPTS_MAX) {
                  throw Status.ABORTED
                      .withDescription(
                          "the cluster map kept changing during the command; try again")
                      .asRuntimeException();
                }
                return update(change, attempt + 1);
              });
        });
  }

  // ---- plans and responses ----

  private CompletableFuture<PlanResponse> planOf(ClusterMap map, MapChange change, boolean join) {
    PlanResponse.Builder response =
        PlanResponse.newBuilder()
            .setMapEpoch(map.getEpoch())
            .setSlotsTotal(MovePlanner.slotsTotal(map));
    ClusterMap changed;
    try {
      changed = change.apply(map, map.getEpoch() + 1);
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() != Status.Code.FAILED_PRECONDITION) {
        throw e;
      }
      return CompletableFuture.completedFuture(
          response.setRefusal(e.getStatus().getDescription()).build());
    }
    int nodes = MovePlanner.activeIds(join ? changed : map).size();
    if (changed != map && nodes > 0) {
      // The fraction of the slots the ring moves in theory: the joining node's 1/N of them, or
      // the leaving node's 1/N.
      response.setTheoreticalShare(1.0 / nodes);
    }
    return plannedWithBytes(changed).thenApply(moves -> response.addAllMoves(moves).build());
  }

  private CompletableFuture<List<PlannedMove>> plannedWithBytes(ClusterMap map) {
    return withBytes(MovePlanner.plan(map, group -> 0))
        .thenApply(moves -> moves.stream().map(MovePlanner::toPlanned).toList());
  }

  /** {@code moves} with bytes_estimate from each group leader's approximate_bytes (0: unknown). */
  private CompletableFuture<List<ReplicaMove>> withBytes(List<ReplicaMove> moves) {
    Map<Integer, CompletableFuture<Long>> bytes = new HashMap<>();
    for (ReplicaMove move : moves) {
      if (bytes.size() < PLAN_BYTES_QUERIES_MAX) {
        bytes.computeIfAbsent(
            move.getGroup(),
            group ->
                ops.groupProgress(group)
                    .thenApply(GroupProgressResponse::getApproximateBytes)
                    .exceptionally(error -> 0L));
      }
    }
    return CompletableFuture.allOf(bytes.values().toArray(CompletableFuture[]::new))
        .thenApply(ignored ->
            moves.stream()
                .map(move ->
                    move.toBuilder()
                        .setBytesEstimate(
                            bytes
                                .getOrDefault(
                                    move.getGroup(), CompletableFuture.completedFuture(0L))
                                .join())
                        .build())
                .toList());
  }

  private static List<Member> apiMembers(ClusterMap map) {
    List<Member> members = new ArrayList<>();
    for (ClusterMember member : map.getMembersList()) {
      int replicas = 0;
      for (GroupReplicas group : map.getGroupsList()) {
        replicas += group.getVotersList().contains(member.getNodeId()) ? 1 : 0;
      }
      members.add(
          Member.newBuilder()
              .setNodeId(member.getNodeId())
              .setClientAddress(member.getClientAddress())
              .setPeerAddress(member.getPeerAddress())
              .setMapState(member.getState().name().toLowerCase(Locale.ROOT))
              .setReplicas(replicas)
              .build());
    }
    return members;
  }

  // ---- small helpers ----

  /**
   * What the node said of itself, checked against what the operator said; a peer address the node
   * did not give (a node outside the map may not list itself in Members) is taken from the request.
   */
  private static NodeIdentity checkedIdentity(AddNodeRequest request, NodeIdentity identity) {
    if (request.getNodeId() != 0 && request.getNodeId() != identity.nodeId()) {
      throw refused(
          "the node at %s says it is node %d, not %d",
          request.getClientAddress(), identity.nodeId(), request.getNodeId());
    }
    String peer = identity.peerAddress();
    if (peer.isEmpty()) {
      if (request.getPeerAddress().isEmpty()) {
        throw refused(
            "the node at %s did not say its peer address; give it in the request",
            request.getClientAddress());
      }
      return new NodeIdentity(
          identity.nodeId(),
          identity.clusterId(),
          identity.clientAddress(),
          request.getPeerAddress());
    }
    if (!request.getPeerAddress().isEmpty() && !request.getPeerAddress().equals(peer)) {
      throw refused(
          "the node at %s says its peer address is %s, not %s",
          request.getClientAddress(), peer, request.getPeerAddress());
    }
    return identity;
  }

  private void observe(ClusterMap map) {
    int underReplicated = 0;
    for (int group = 0; group < map.getPartitionCount(); group++) {
      int live = 0;
      for (long voter : map.getGroups(group).getVotersList()) {
        live += isPresent(map, voter) ? 1 : 0;
      }
      underReplicated += live < map.getReplicationFactor() ? 1 : 0;
    }
    metrics.observe(map.getMovesCount(), underReplicated);
  }

  /** At most one move per group, and never more than the cap unless the read map had more. */
  private void checkMoves(ClusterMap next, ClusterMap read) {
    Set<Integer> groups = new HashSet<>();
    for (ReplicaMove move : next.getMovesList()) {
      Invariants.check(groups.add(move.getGroup()), "two moves in group %d", move.getGroup());
    }
    Invariants.check(
        next.getMovesCount()
            <= Math.max(settings.rebalanceMovesConcurrentMax(), read.getMovesCount()),
        "%d moves recorded, cap %d",
        next.getMovesCount(),
        settings.rebalanceMovesConcurrentMax());
  }

  private static ChangeReplicasRequest change(
      ClusterMap map,
      ReplicaMove move,
      ChangeReplicasRequest.Operation operation,
      long addNode,
      long removeNode) {
    return ChangeReplicasRequest.newBuilder()
        .setClusterId(map.getClusterId())
        .setGroup(move.getGroup())
        .setOperation(operation)
        .setAddNode(addNode)
        .setRemoveNode(removeNode)
        .build();
  }

  /** The configuration is the move's outcome: not joint, to a voter, from gone. */
  static boolean isFinal(GroupConf conf, ReplicaMove move) {
    return conf.getVotersOutgoingCount() == 0
        && conf.getVotersCount() > 0
        && (move.getToNode() == 0 || conf.getVotersList().contains(move.getToNode()))
        && (move.getFromNode() == 0 || !inConf(conf, move.getFromNode()));
  }

  static boolean inConf(GroupConf conf, long node) {
    return conf.getVotersList().contains(node)
        || conf.getLearnersList().contains(node)
        || conf.getVotersOutgoingList().contains(node)
        || conf.getLearnersNextList().contains(node);
  }

  /** A voter to hand leadership to: not the leaving node, ACTIVE if one is. */
  /**
   * The voter to hand leadership to on the {@code attempt}-th round: the ACTIVE voters other than
   * the leaving node take turns (any other voter when none is ACTIVE), so one heir that is down or
   * lagging does not use up every attempt before the leader is removed in place.
   */
  private static long heir(ClusterMap map, GroupConf conf, ReplicaMove move, int attempt) {
    List<Long> active = new ArrayList<>();
    List<Long> others = new ArrayList<>();
    for (long voter : conf.getVotersList()) {
      if (voter == move.getFromNode()) {
        continue;
      }
      (isActive(map, voter) ? active : others).add(voter);
    }
    List<Long> candidates = active.isEmpty() ? others : active;
    return candidates.isEmpty() ? 0 : candidates.get(attempt % candidates.size());
  }

  private static ReplicaMove.Phase firstPhase(ReplicaMove move) {
    return move.getToNode() == 0 ? ReplicaMove.Phase.PROMOTE : ReplicaMove.Phase.ADD_LEARNER;
  }

  private static ReplicaMove.Phase nextPhase(ReplicaMove move) {
    return switch (move.getPhase()) {
      case ADD_LEARNER -> ReplicaMove.Phase.CATCH_UP;
      case CATCH_UP -> ReplicaMove.Phase.PROMOTE;
      case PROMOTE -> ReplicaMove.Phase.CLEANUP;
      default -> firstPhase(move);
    };
  }

  private static boolean holdsAnything(ClusterMap map, long nodeId) {
    for (GroupReplicas group : map.getGroupsList()) {
      if (group.getVotersList().contains(nodeId)) {
        return true;
      }
    }
    for (ReplicaMove move : map.getMovesList()) {
      if (move.getFromNode() == nodeId || move.getToNode() == nodeId) {
        return true;
      }
    }
    return false;
  }

  private static boolean restoresRedundancy(ClusterMap map, ReplicaMove move) {
    return move.getFromNode() == 0 || !isPresent(map, move.getFromNode());
  }

  static Why why(ClusterMap map, ReplicaMove move) {
    if (ClusterMaps.isMeta(move.getGroup(), map.getPartitionCount())) {
      return Why.META;
    }
    if (move.getFromNode() == 0) {
      return Why.UNDER_REPLICATED;
    }
    Optional<ClusterMember> from = MovePlanner.member(map, move.getFromNode());
    if (from.isEmpty() || from.get().getState() == ClusterMember.State.REMOVED) {
      return Why.REPLACEMENT;
    }
    return from.get().getState() == ClusterMember.State.DECOMMISSIONING
        ? Why.DECOMMISSION
        : Why.JOIN;
  }

  private static boolean isActive(ClusterMap map, long nodeId) {
    return MovePlanner.member(map, nodeId)
        .map(member -> member.getState() == ClusterMember.State.ACTIVE)
        .orElse(false);
  }

  /** A member not REMOVED: it may still hold replicas and answer. */
  private static boolean isPresent(ClusterMap map, long nodeId) {
    return MovePlanner.member(map, nodeId)
        .map(member -> member.getState() != ClusterMember.State.REMOVED)
        .orElse(false);
  }

  private static int memberIndex(ClusterMap map, long nodeId) {
    for (int i = 0; i < map.getMembersCount(); i++) {
      if (map.getMembers(i).getNodeId() == nodeId) {
        return i;
      }
    }
    return -1;
  }

  private static ClusterMember withState(
      ClusterMember member, ClusterMember.State state, long epoch, String reason) {
    return member.toBuilder().setState(state).setStateEpoch(epoch).setStateReason(reason).build();
  }

  private static String moveKey(ReplicaMove move) {
    return move.getGroup()
        + ":"
        + move.getFromNode()
        + ">"
        + move.getToNode()
        + "@"
        + move.getPlannedEpoch();
  }

  private static String describe(ReplicaMove move) {
    return "group "
        + move.getGroup()
        + " "
        + move.getFromNode()
        + "->"
        + move.getToNode()
        + " ("
        + MovePlanner.phaseName(move.getPhase())
        + ")";
  }

  private static StatusRuntimeException invalid(String message) {
    return Status.INVALID_ARGUMENT.withDescription(message).asRuntimeException();
  }

  private static StatusRuntimeException refused(String format, Object... arguments) {
    return Status.FAILED_PRECONDITION
        .withDescription(String.format(format, arguments))
        .asRuntimeException();
  }

  private static Throwable rootCause(Throwable error) {
    Throwable cause = error;
    while (cause instanceof CompletionException && cause.getCause() != null) {
      cause = cause.getCause();
    }
    return cause;
  }

  private static <T> CompletableFuture<T> failed(Throwable error) {
    return CompletableFuture.failedFuture(error);
  }

  /** The same outcome, failing with the cause itself rather than a CompletionException. */
  private static <T> CompletableFuture<T> unwrapped(CompletableFuture<T> future) {
    CompletableFuture<T> result = new CompletableFuture<>();
    future.whenComplete((value, error) -> {
      if (error == null) {
        result.complete(value);
      } else {
        result.completeExceptionally(rootCause(error));
      }
    });
    return result;
  }
}
