package io.ringkv.server.auth;

import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.ringkv.proto.internal.AuthSyncGrpc;
import io.ringkv.proto.internal.GetAuthRecordRequest;
import io.ringkv.proto.internal.GetAuthRecordResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongFunction;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps this node's {@link AuthView} up to date, as the map follower does for the cluster map: a
 * node with a meta replica reads the record from it every {@link #LOCAL_READ_INTERVAL_MILLIS}, and
 * every node asks one meta voter (in turn) every {@link #POLL_INTERVAL_MILLIS}, so a node without a
 * meta replica, or whose replica lags, sees a change within about a second. Only newer revisions
 * are adopted, so the two paths never take the view back.
 */
public final class AuthFollower implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(AuthFollower.class);

  static final long LOCAL_READ_INTERVAL_MILLIS = 200;
  static final long POLL_INTERVAL_MILLIS = 1000;
  static final long POLL_DEADLINE_MILLIS = 2000;

  private final long selfNodeId;
  private final String clusterId;
  private final AuthStore store;
  private final AuthView view;
  private final Supplier<List<Long>> metaVoters;
  private final LongFunction<Channel> channelTo;
  private final ScheduledExecutorService scheduler;
  private int nextVoter;

  public AuthFollower(
      long selfNodeId,
      String clusterId,
      AuthStore store,
      AuthView view,
      Supplier<List<Long>> metaVoters,
      LongFunction<Channel> channelTo) {
    this.selfNodeId = selfNodeId;
    this.clusterId = clusterId;
    this.store = store;
    this.view = view;
    this.metaVoters = metaVoters;
    this.channelTo = channelTo;
    this.scheduler =
        Executors.newSingleThreadScheduledExecutor(runnable -> {
          Thread thread = new Thread(runnable, "ringkv-auth-follower");
          thread.setDaemon(true);
          return thread;
        });
  }

  public AuthFollower start() {
    // The first local read runs before start returns: a restarted meta replica serves with the
    // record it holds from its first call on, not after the first round. A node without a meta
    // replica asks the meta voters once each before it serves, so it does not begin by serving as
    // if auth were off; when none answers, it refuses calls until a later poll gets an answer.
    readLocal();
    for (int asked = 0; !view.known() && asked < metaVoters.get().size(); asked++) {
      pollOne();
    }
    scheduler.scheduleWithFixedDelay(
        this::readLocal,
        LOCAL_READ_INTERVAL_MILLIS,
        LOCAL_READ_INTERVAL_MILLIS,
        TimeUnit.MILLISECONDS);
    scheduler.scheduleWithFixedDelay(
        this::pollOne, POLL_INTERVAL_MILLIS, POLL_INTERVAL_MILLIS, TimeUnit.MILLISECONDS);
    return this;
  }

  private void readLocal() {
    try {
      store
          .readLocal()
          .ifPresent(found -> {
            boolean adopted = view.adopt(found.record(), found.revision());
            view.markKnown();
            if (adopted) {
              log.info(
                  "auth record revision {} from the local meta replica (auth {})",
                  found.revision(),
                  found.record().getEnabled() ? "on" : "off");
            }
          });
    } catch (RuntimeException e) {
      // A replica destroyed or stopped between the check and the read: the next round sees it.
      log.debug("reading the local auth record failed", e);
    }
  }

  private void pollOne() {
    List<Long> voters = new ArrayList<>(metaVoters.get());
    voters.remove(selfNodeId);
    if (voters.isEmpty()) {
      return;
    }
    long target = voters.get(Math.floorMod(nextVoter++, voters.size()));
    try {
      GetAuthRecordResponse response =
          AuthSyncGrpc.newBlockingStub(channelTo.apply(target))
              .withDeadlineAfter(POLL_DEADLINE_MILLIS, TimeUnit.MILLISECONDS)
              .getAuthRecord(GetAuthRecordRequest.newBuilder().setClusterId(clusterId).build());
      if (response.getRevision() > 0 && view.adopt(response.getRecord(), response.getRevision())) {
        log.info("auth record revision {} from node {}", response.getRevision(), target);
      }
      view.markKnown();
    } catch (StatusRuntimeException e) {
      log.debug("polling the auth record of node {} failed: {}", target, e.getStatus());
    } catch (RuntimeException e) {
      log.warn("polling the auth record failed", e);
    }
  }

  @Override
  public void close() {
    scheduler.shutdownNow();
  }

  /** Serves the record of this node's meta replica (without the nodes' token) to other nodes. */
  public static final class SyncService extends AuthSyncGrpc.AuthSyncImplBase {
    private final String clusterId;
    private final AuthStore store;

    public SyncService(String clusterId, AuthStore store) {
      this.clusterId = clusterId;
      this.store = store;
    }

    @Override
    public void getAuthRecord(
        GetAuthRecordRequest request, StreamObserver<GetAuthRecordResponse> observer) {
      if (!request.getClusterId().equals(clusterId)) {
        observer.onError(
            Status.FAILED_PRECONDITION
                .withDescription(
                    "this node is of cluster '"
                        + clusterId
                        + "', not '"
                        + request.getClusterId()
                        + "'")
                .asRuntimeException());
        return;
      }
      java.util.Optional<AuthStore.Versioned> found;
      try {
        found = store.readLocal();
      } catch (RuntimeException e) {
        observer.onError(Status.UNAVAILABLE.withDescription(e.toString()).asRuntimeException());
        return;
      }
      if (found.isEmpty()) {
        // An empty answer would read as "auth off" to a node still learning the auth state.
        observer.onError(
            Status.UNAVAILABLE
                .withDescription("this node holds no meta replica: ask a meta voter")
                .asRuntimeException());
        return;
      }
      observer.onNext(
          GetAuthRecordResponse.newBuilder()
              .setRecord(AuthRecords.withoutSecrets(found.get().record()))
              .setRevision(found.get().revision())
              .build());
      observer.onCompleted();
    }
  }
}
