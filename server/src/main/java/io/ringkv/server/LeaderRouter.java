package io.ringkv.server;

import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.ringkv.proto.internal.CommandError;
import io.ringkv.proto.v1.ErrorDetail;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.proto.v1.ResponseHeader;
import io.ringkv.raft.Role;
import io.ringkv.server.config.Limits;
import io.ringkv.server.membership.ClusterMapView;
import io.ringkv.server.raft.DriverException;
import io.ringkv.server.raft.GroupStatus;
import io.ringkv.server.raft.MultiRaftDriver;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.function.LongPredicate;
import java.util.function.LongSupplier;

/**
 * Decides where a request of one partition is served: here, when this node's replica may serve it
 * (it leads, or the read is serializable), or forwarded over gRPC to the leader this node knows
 * (its own replica's view, or the hint of an earlier NOT_LEADER answer).
 *
 * <p>Design notes. Runs on the call executor and may wait: while a partition has no reachable
 * leader it retries in short pauses, bounded by the call's deadline (or {@link
 * #CALL_TIMEOUT_MILLIS_DEFAULT} without one), and then fails UNAVAILABLE with NO_QUORUM. A call
 * that was itself forwarded is never forwarded again: it is answered NOT_LEADER with a hint. Time
 * comes from the injected nano clock.
 */
final class LeaderRouter {
  static final long CALL_TIMEOUT_MILLIS_DEFAULT = 10_000;

  /** Answer this long before the client's deadline so it sees our status, not its own timeout. */
  static final long DEADLINE_MARGIN_MILLIS = 50;

  static final long RETRY_PAUSE_MILLIS = 10;

  /** Work served by this node's replica before {@code deadlineNanos} (of the nano clock). */
  interface Local<T> {
    T serve(long deadlineNanos) throws Exception;
  }

  private final long nodeId;
  private final Limits limits;
  private final MultiRaftDriver driver;
  private final PeerChannels peers;
  private final ClusterMapView mapView;
  private final LongPredicate peerConnected;
  private final LongSupplier nanoClock;
  private final Map<Integer, Long> leaderHints = new ConcurrentHashMap<>();

  LeaderRouter(
      long nodeId,
      Limits limits,
      MultiRaftDriver driver,
      PeerChannels peers,
      ClusterMapView mapView,
      LongPredicate peerConnected,
      LongSupplier nanoClock) {
    this.nodeId = nodeId;
    this.limits = limits;
    this.driver = driver;
    this.peers = peers;
    this.mapView = mapView;
    this.peerConnected = peerConnected;
    this.nanoClock = nanoClock;
  }

  long nowNanos() {
    return nanoClock.getAsLong();
  }

  /** Nanos left before {@code deadlineNanos}, never negative. */
  long remainingNanos(long deadlineNanos) {
    return Math.max(0, deadlineNanos - nanoClock.getAsLong());
  }

  /**
   * Serves the request locally when allowed, or forwards it.
   *
   * @param needsLeader only the partition's leader may serve it here
   * @param retryForwardFailure the request is a read, safe to ask again: an UNAVAILABLE forward
   *     without detail, or a local read whose replica stopped leading while it waited, is retried
   *     (never for writes, whose outcome is then unknown)
   * @param scanPartition for a forwarded per-partition scan page, its partition; otherwise null
   */
  <T> T route(
      int partition,
      boolean needsLeader,
      Local<T> local,
      Function<KVGrpc.KVBlockingStub, T> forward,
      boolean retryForwardFailure,
      Integer scanPartition) {
    long deadline = deadlineNanos();
    int attempt = 0;
    while (true) {
      long remaining = deadline - nanoClock.getAsLong();
      if (remaining <= 0) {
        throw KvErrors.noQuorum(
            partition, "partition " + partition + " had no reachable leader within the deadline");
      }
      GroupStatus status = driver.status(partition);
      long leader;
      if (status != null) {
        if (!needsLeader || status.role() == Role.LEADER) {
          try {
            return local.serve(deadline);
          } catch (DriverException e) {
            boolean readSafeToRetry = retryForwardFailure && servesElsewhere(e);
            if (e.kind() != DriverException.Kind.NOT_LEADER && !readSafeToRetry) {
              throw driverError(e);
            }
            pause();
            continue;
          } catch (StatusRuntimeException e) {
            throw e;
          } catch (Exception e) {
            throw Status.INTERNAL.withDescription(e.toString()).asRuntimeException();
          }
        }
        leader = status.leaderId();
      } else {
        // Not hosted here: the map's voters are where it lives (read anew each attempt, so a
        // replica that moved while we retried is found at its new place).
        List<Long> voters = mapView.votersOf(partition);
        leader =
            voters.isEmpty()
                ? 0
                : leaderHints.getOrDefault(partition, voters.get(attempt % voters.size()));
      }
      attempt++;
      if (ForwardingHeaders.isForwarded()) {
        throw KvErrors.notLeader(
            partition, leader, leader == 0 ? "" : peers.clientAddress(leader), mapView.epoch());
      }
      if (leader == 0 || leader == nodeId || !peerConnected.test(leader)) {
        pause();
        continue;
      }
      try {
        T answer =
            forward.apply(
                peers.kv(leader, scanPartition).withDeadlineAfter(remaining, TimeUnit.NANOSECONDS));
        if (needsLeader && status == null) {
          leaderHints.put(partition, leader); // it served as leader: where the next scan asks
        }
        return answer;
      } catch (StatusRuntimeException e) {
        ErrorDetail detail = KvErrors.detailOf(e);
        if (detail != null && detail.getReason() == ErrorDetail.Reason.NOT_LEADER) {
          if (detail.getLeaderHint() != 0 && detail.getLeaderHint() != leader) {
            leaderHints.put(partition, detail.getLeaderHint());
          } else {
            leaderHints.remove(partition);
          }
          pause();
          continue;
        }
        if (retryForwardFailure
            && e.getStatus().getCode() == Status.Code.UNAVAILABLE
            && detail == null) {
          pause();
          continue;
        }
        throw e;
      }
    }
  }

  /**
   * The node a read of {@code partition} would be served by now, without waiting: this node when
   * its replica may serve it (it leads, or {@code needsLeader} is false and it holds a replica),
   * else the leader this node knows if it is connected, else 0 (then only {@link #route} finds it).
   * A guess: the node asked may answer that it no longer serves the partition.
   */
  long servingNode(int partition, boolean needsLeader) {
    GroupStatus status = driver.status(partition);
    long leader;
    if (status != null) {
      if (!needsLeader || status.role() == Role.LEADER) {
        return nodeId;
      }
      leader = status.leaderId();
    } else {
      leader = leaderHints.getOrDefault(partition, 0L);
    }
    return leader != nodeId && leader != 0 && peerConnected.test(leader) ? leader : 0;
  }

  /**
   * Whether a failed read of the local replica may be served elsewhere instead: this node does not
   * lead or hold the partition, or lost leadership while the read waited (nothing was read, so
   * asking the new leader is safe; the failure alone does not say whether a write applied).
   */
  boolean servesElsewhere(DriverException e) {
    return switch (e.kind()) {
      case NOT_LEADER, NOT_HOSTED -> true;
      case UNAVAILABLE -> {
        GroupStatus status = driver.status(e.partition());
        yield status == null || status.role() != Role.LEADER;
      }
      case OVERLOADED -> false;
    };
  }

  /** Remembers a leader another node named for {@code partition} (0: it knew none). */
  void leaderHint(int partition, long leader) {
    if (leader == 0 || leader == nodeId) {
      leaderHints.remove(partition);
    } else {
      leaderHints.put(partition, leader);
    }
  }

  /** Waits until a read of the local store is allowed; returns the term to report. */
  long readBarrier(int partition, boolean linearizable, long deadlineNanos) throws Exception {
    if (linearizable) {
      return await(driver.readIndex(partition), deadlineNanos, partition);
    }
    GroupStatus status = driver.status(partition);
    return status == null ? 0 : status.term();
  }

  <V> V await(CompletableFuture<V> future, long deadlineNanos, int partition) throws Exception {
    try {
      return future.get(remainingNanos(deadlineNanos), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      future.cancel(false);
      throw Status.UNAVAILABLE
          .withDescription(
              "partition " + partition + ": not applied within the deadline (outcome unknown)")
          .asRuntimeException();
    } catch (ExecutionException e) {
      if (e.getCause() instanceof DriverException driverException) {
        throw driverException;
      }
      throw Status.INTERNAL.withDescription(e.getCause().toString()).asRuntimeException();
    }
  }

  StatusRuntimeException driverError(DriverException e) {
    return switch (e.kind()) {
      case OVERLOADED ->
          KvErrors.overloaded(
              e.partition(),
              "inflight-proposals-per-partition-max",
              limits.inflightProposalsPerPartitionMax());
      case NOT_LEADER ->
          KvErrors.notLeader(
              e.partition(), e.leaderHint(), peers.clientAddress(e.leaderHint()), mapView.epoch());
      case UNAVAILABLE, NOT_HOSTED ->
          Status.UNAVAILABLE.withDescription(e.getMessage()).asRuntimeException();
    };
  }

  static StatusRuntimeException commandError(CommandError error, int partition) {
    ErrorDetail.Builder detail =
        ErrorDetail.newBuilder()
            .setReason(ErrorDetail.Reason.forNumber(error.getReason()))
            .setPartition(partition);
    if (!error.getLimitName().isEmpty()) {
      detail.setLimitName(error.getLimitName()).setLimitValue(error.getLimitValue());
    }
    return KvErrors.of(
        Status.fromCodeValue(error.getGrpcCode()).getCode(), error.getMessage(), detail.build());
  }

  /** The call's deadline on the nano clock, a margin before the client's own. */
  long deadlineNanos() {
    long budget = TimeUnit.MILLISECONDS.toNanos(CALL_TIMEOUT_MILLIS_DEFAULT);
    Deadline deadline = Context.current().getDeadline();
    if (deadline != null) {
      budget =
          Math.min(
              budget,
              deadline.timeRemaining(TimeUnit.NANOSECONDS)
                  - TimeUnit.MILLISECONDS.toNanos(DEADLINE_MARGIN_MILLIS));
    }
    return nanoClock.getAsLong() + budget;
  }

  ResponseHeader header(int partition, long term) {
    return ResponseHeader.newBuilder()
        .setNodeId(nodeId)
        .setPartition(partition)
        .setMapEpoch(mapView.epoch())
        .setRaftTerm(term)
        .build();
  }

  /** A header for a response merged from several partitions. */
  ResponseHeader mergedHeader() {
    return ResponseHeader.newBuilder().setNodeId(nodeId).setMapEpoch(mapView.epoch()).build();
  }

  private static void pause() {
    try {
      Thread.sleep(RETRY_PAUSE_MILLIS); // back-off between routing attempts, bounded by deadline
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw Status.CANCELLED.withDescription("interrupted").asRuntimeException();
    }
  }
}
