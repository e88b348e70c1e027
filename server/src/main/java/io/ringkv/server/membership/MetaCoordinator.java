package io.ringkv.server.membership;

import com.google.common.util.concurrent.FutureCallback;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.MoreExecutors;
import io.grpc.Channel;
import io.grpc.Context;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import io.ringkv.proto.internal.ClusterMap;
import io.ringkv.proto.v1.AddNodeRequest;
import io.ringkv.proto.v1.AddNodeResponse;
import io.ringkv.proto.v1.ClusterGrpc;
import io.ringkv.proto.v1.PlanRequest;
import io.ringkv.proto.v1.PlanResponse;
import io.ringkv.proto.v1.RemoveNodeRequest;
import io.ringkv.proto.v1.RemoveNodeResponse;
import io.ringkv.raft.Role;
import io.ringkv.server.ForwardingHeaders;
import io.ringkv.server.raft.GroupStatus;
import io.ringkv.server.raft.MultiRaftDriver;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import java.util.function.LongFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the {@link Rebalancer} on whichever node leads the meta group, and answers the membership
 * commands from any node.
 *
 * <p>Every node runs one of these. Each round ({@link #ROUND_INTERVAL_MILLIS}) it checks whether
 * its replica of the meta group leads; only then does it run a rebalancer round. Leadership moving
 * needs no hand-over: the new leader's first round reads the map (linearizably) and resumes every
 * move from its recorded phase. A node that does not lead the meta group forwards AddNode,
 * RemoveNode and Plan once to the meta leader it knows (or to a meta voter when it hosts no meta
 * replica); a forwarded call that again meets a non-leader answers UNAVAILABLE naming the leader it
 * knows, and the client retries.
 */
public final class MetaCoordinator implements MembershipCommands, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(MetaCoordinator.class);

  /**
   * Half a second between rounds: a move takes a handful of rounds (four phases plus catch-up
   * polls), so its phases follow each other within a second or two while a round costs a few calls
   * per running move.
   */
  public static final long ROUND_INTERVAL_MILLIS = 500;

  /**
   * After a round that wrote the map (a phase done, a move started or finished) the next round
   * follows this soon: the next phase is usually ready at once (a learner added is ready to catch
   * up), so waiting a full interval would only stretch each move. Rounds that change nothing keep
   * the full interval.
   */
  public static final long FOLLOW_UP_ROUND_DELAY_MILLIS = 50;

  /** A membership command forwarded to the meta leader waits this long at most. */
  static final long FORWARD_DEADLINE_MILLIS = 60_000;

  private final long selfNodeId;
  private final MultiRaftDriver driver;
  private final ClusterMapView view;
  private final Rebalancer rebalancer;
  private final LongFunction<Channel> channelTo;
  private final BooleanSupplier forwardedCall;
  private final ScheduledExecutorService scheduler;
  private boolean leading;

  /**
   * @param channelTo a gRPC channel to the client address of a member
   * @param forwardedCall whether the call being served was forwarded by another node
   */
  public MetaCoordinator(
      long selfNodeId,
      MultiRaftDriver driver,
      ClusterMapView view,
      Rebalancer rebalancer,
      LongFunction<Channel> channelTo,
      BooleanSupplier forwardedCall) {
    this.selfNodeId = selfNodeId;
    this.driver = driver;
    this.view = view;
    this.rebalancer = rebalancer;
    this.channelTo = channelTo;
    this.forwardedCall = forwardedCall;
    this.scheduler =
        Executors.newSingleThreadScheduledExecutor(runnable -> {
          Thread thread = new Thread(runnable, "ringkv-meta-coordinator");
          thread.setDaemon(true);
          return thread;
        });
  }

  public MetaCoordinator start() {
    scheduleRound(ROUND_INTERVAL_MILLIS);
    return this;
  }

  private int metaGroup() {
    return ClusterMaps.metaGroup(view.partitionCount());
  }

  /** Whether this node's meta replica leads (as of its last published status). */
  public boolean leadsMeta() {
    GroupStatus status = driver.status(metaGroup());
    return status != null && status.role() == Role.LEADER;
  }

  private void scheduleRound(long delayMillis) {
    try {
      scheduler.schedule(
          () -> {
            boolean wrote = false;
            try {
              wrote = round();
            } catch (RuntimeException e) {
              // One bad round must not end the rounds: the next starts again from the stored map.
              log.warn("membership round failed", e);
            }
            scheduleRound(wrote ? FOLLOW_UP_ROUND_DELAY_MILLIS : ROUND_INTERVAL_MILLIS);
          },
          delayMillis,
          TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException closed) {
      // Closed: no more rounds.
    }
  }

  /** Runs one round if this node leads the meta group; true if the round wrote the map. */
  private boolean round() {
    boolean leadsNow = leadsMeta();
    if (leadsNow != leading) {
      leading = leadsNow;
      log.info(
          leadsNow
              ? "node {} leads the meta group: it coordinates membership"
              : "node {} no longer leads the meta group",
          selfNodeId);
    }
    if (!leadsNow) {
      return false;
    }
    try {
      Rebalancer.Round round =
          rebalancer.runOnce().get(FORWARD_DEADLINE_MILLIS, TimeUnit.MILLISECONDS);
      if (round.written()) {
        log.info(
            "map epoch {}: {} moves advanced, {} started, {} finished",
            round.map().getEpoch(),
            round.movesAdvanced(),
            round.movesStarted(),
            round.movesFinished());
      }
      return round.written();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception e) {
      // A lost leadership, a slow node: the next round starts again from the stored map.
      log.warn("membership round failed: {}", e.toString());
    }
    return false;
  }

  @Override
  public CompletableFuture<AddNodeResponse> addNode(AddNodeRequest request) {
    return leadsMeta() ? rebalancer.addNode(request) : forward(stub -> stub.addNode(request));
  }

  @Override
  public CompletableFuture<RemoveNodeResponse> removeNode(RemoveNodeRequest request) {
    return leadsMeta() ? rebalancer.removeNode(request) : forward(stub -> stub.removeNode(request));
  }

  @Override
  public CompletableFuture<PlanResponse> plan(PlanRequest request) {
    return leadsMeta() ? rebalancer.plan(request) : forward(stub -> stub.plan(request));
  }

  /** The meta leader as this node knows it, else a meta voter other than itself, else 0. */
  private long metaLeaderHint() {
    GroupStatus status = driver.status(metaGroup());
    if (status != null && status.leaderId() != 0 && status.leaderId() != selfNodeId) {
      return status.leaderId();
    }
    for (long voter : view.votersOf(metaGroup())) {
      if (voter != selfNodeId) {
        return voter;
      }
    }
    return 0;
  }

  private <T> CompletableFuture<T> forward(
      Function<ClusterGrpc.ClusterFutureStub, ListenableFuture<T>> call) {
    long target = metaLeaderHint();
    if (forwardedCall.getAsBoolean() || target == 0) {
      return CompletableFuture.failedFuture(ForwardingHeaders.notMetaLeader(selfNodeId, target));
    }
    // A follow-up hop runs on a gRPC thread: it gets the served call's context back, so it passes
    // on the caller's credentials, never this node's own.
    return forwardTo(target, call, ForwardingHeaders.META_FORWARD_TRIES_MAX - 1, Context.current());
  }

  /**
   * Forwards to {@code target}; when it refuses as a follower naming another leader, forwards there
   * instead, at most {@code triesLeft} more times.
   */
  private <T> CompletableFuture<T> forwardTo(
      long target,
      Function<ClusterGrpc.ClusterFutureStub, ListenableFuture<T>> call,
      int triesLeft,
      Context served) {
    Metadata headers = new Metadata();
    headers.put(ForwardingHeaders.FORWARDED, Long.toString(selfNodeId));
    ClusterGrpc.ClusterFutureStub stub =
        ClusterGrpc.newFutureStub(channelTo.apply(target))
            .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
            .withDeadlineAfter(FORWARD_DEADLINE_MILLIS, TimeUnit.MILLISECONDS);
    CompletableFuture<T> result = new CompletableFuture<>();
    Futures.addCallback(
        call.apply(stub),
        new FutureCallback<T>() {
          @Override
          public void onSuccess(T value) {
            result.complete(value);
          }

          @Override
          public void onFailure(Throwable error) {
            long next = ForwardingHeaders.nextMetaHop(error, target, selfNodeId, triesLeft);
            if (next == 0) {
              result.completeExceptionally(error);
              return;
            }
            log.debug("node {} does not lead the meta group: forwarding to node {}", target, next);
            CompletableFuture<T> nextHop;
            Context previous = served.attach();
            try {
              nextHop = forwardTo(next, call, triesLeft - 1, served);
            } finally {
              served.detach(previous);
            }
            nextHop.whenComplete((value, failure) -> {
              if (failure == null) {
                result.complete(value);
              } else {
                result.completeExceptionally(failure);
              }
            });
          }
        },
        MoreExecutors.directExecutor());
    return result;
  }

  /** The newest map this node knows (for tests and status). */
  public ClusterMap map() {
    return view.current();
  }

  @Override
  public void close() {
    scheduler.shutdownNow();
  }
}
