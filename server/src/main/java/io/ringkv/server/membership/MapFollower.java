package io.ringkv.server.membership;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.ringkv.proto.internal.ClusterMap;
import io.ringkv.proto.internal.ClusterMember;
import io.ringkv.proto.internal.GetClusterMapRequest;
import io.ringkv.proto.internal.GetClusterMapResponse;
import io.ringkv.proto.internal.PushClusterMapRequest;
import io.ringkv.proto.internal.PushClusterMapResponse;
import io.ringkv.proto.internal.ReplicaAdminGrpc;
import io.ringkv.server.BoundChannels;
import io.ringkv.server.config.HostPort;
import io.ringkv.server.raft.MultiRaftDriver;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps this node's {@link ClusterMapView} up to date without being told: a node that hosts a meta
 * replica reads the map from its own replica's store every {@link #LOCAL_READ_INTERVAL_MILLIS};
 * every node also asks one meta voter (in turn) for its map every {@link #POLL_INTERVAL_MILLIS}, so
 * a node without a meta replica, or whose meta replica lags or was moved away, still converges. The
 * meta leader's pushes after each change make this the slow path.
 */
public final class MapFollower implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(MapFollower.class);

  /** Reading the local meta replica costs one RocksDB get: often enough to feel immediate. */
  static final long LOCAL_READ_INTERVAL_MILLIS = 200;

  /** One small RPC per node per second: cluster-wide load grows with N, not N squared. */
  static final long POLL_INTERVAL_MILLIS = 1000;

  static final long POLL_DEADLINE_MILLIS = 2000;

  private final long selfNodeId;
  private final String clusterId;
  private final BoundChannels boundChannels;
  private final MultiRaftDriver driver;
  private final ClusterMapView view;
  private final ScheduledExecutorService scheduler;
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  private final io.grpc.ClientInterceptor[] credentials;
  private int nextVoter;

  public MapFollower(
      long selfNodeId,
      String clusterId,
      BoundChannels boundChannels,
      MultiRaftDriver driver,
      ClusterMapView view,
      io.grpc.ClientInterceptor... credentials) {
    this.credentials = credentials.clone();
    this.selfNodeId = selfNodeId;
    this.clusterId = clusterId;
    this.boundChannels = boundChannels;
    this.driver = driver;
    this.view = view;
    this.scheduler =
        Executors.newSingleThreadScheduledExecutor(runnable -> {
          Thread thread = new Thread(runnable, "ringkv-map-follower");
          thread.setDaemon(true);
          return thread;
        });
  }

  public MapFollower start() {
    scheduler.scheduleWithFixedDelay(
        this::readLocal, 0, LOCAL_READ_INTERVAL_MILLIS, TimeUnit.MILLISECONDS);
    scheduler.scheduleWithFixedDelay(
        this::pollOne, POLL_INTERVAL_MILLIS, POLL_INTERVAL_MILLIS, TimeUnit.MILLISECONDS);
    return this;
  }

  private void readLocal() {
    int meta = ClusterMaps.metaGroup(view.partitionCount());
    try {
      if (!driver.hosts(meta)) {
        return;
      }
      var stored = driver.store(meta).get(ClusterMaps.META_MAP_KEY);
      if (stored.isPresent() && view.adopt(MetaMapStore.parse(stored.get().value()))) {
        log.info("adopted cluster map epoch {} from the local meta replica", view.epoch());
      }
    } catch (RuntimeException e) {
      // A replica destroyed or stopped between the check and the read: the next round sees it.
      log.debug("reading the local meta replica failed", e);
    }
  }

  private void pollOne() {
    try {
      ClusterMap map = view.current();
      List<ClusterMember> voters = new ArrayList<>();
      int meta = ClusterMaps.metaGroup(map.getPartitionCount());
      for (long voter : map.getGroups(meta).getVotersList()) {
        if (voter != selfNodeId) {
          view.member(voter).ifPresent(voters::add);
        }
      }
      if (voters.isEmpty()) {
        return;
      }
      ClusterMember target = voters.get(Math.floorMod(nextVoter++, voters.size()));
      GetClusterMapResponse response =
          ReplicaAdminGrpc.newBlockingStub(channel(target.getClientAddress()))
              .withDeadlineAfter(POLL_DEADLINE_MILLIS, TimeUnit.MILLISECONDS)
              .getClusterMap(GetClusterMapRequest.newBuilder().setClusterId(clusterId).build());
      if (response.hasMap() && view.adopt(response.getMap())) {
        log.info("adopted cluster map epoch {} from node {}", view.epoch(), target.getNodeId());
      }
    } catch (StatusRuntimeException e) {
      log.debug("polling the cluster map failed: {}", e.getStatus());
    } catch (RuntimeException e) {
      log.warn("polling the cluster map failed", e);
    }
  }

  /**
   * A channel to the client address the map gives {@code nodeId} (an unknown id fails); its calls
   * carry the credentials this follower was given.
   */
  public io.grpc.Channel channelTo(long nodeId) {
    ClusterMember member =
        view.member(nodeId)
            .orElseThrow(() ->
                io.grpc.Status.UNAVAILABLE
                    .withDescription("node " + nodeId + " is not in the cluster map")
                    .asRuntimeException());
    return channel(member.getClientAddress());
  }

  private ManagedChannel channel(String address) {
    return channels.computeIfAbsent(
        address,
        text -> boundChannels.to(HostPort.parse(text, "", 0)).intercept(credentials).build());
  }

  /**
   * Offers {@code map} to every member but this node and the REMOVED (PushClusterMap), without
   * waiting; a member that misses it polls within a second.
   */
  public void pushToMembers(ClusterMap map) {
    PushClusterMapRequest request =
        PushClusterMapRequest.newBuilder().setClusterId(clusterId).setMap(map).build();
    for (ClusterMember member : map.getMembersList()) {
      if (member.getNodeId() == selfNodeId || member.getState() == ClusterMember.State.REMOVED) {
        continue;
      }
      ReplicaAdminGrpc.newStub(channel(member.getClientAddress()))
          .withDeadlineAfter(POLL_DEADLINE_MILLIS, TimeUnit.MILLISECONDS)
          .pushClusterMap(
              request,
              new io.grpc.stub.StreamObserver<>() {
                @Override
                public void onNext(PushClusterMapResponse response) {}

                @Override
                public void onError(Throwable error) {
                  log.debug(
                      "pushing map epoch {} to node {} failed: {}",
                      map.getEpoch(),
                      member.getNodeId(),
                      error.toString());
                }

                @Override
                public void onCompleted() {}
              });
    }
  }

  @Override
  public void close() {
    scheduler.shutdownNow();
    channels.values().forEach(ManagedChannel::shutdownNow);
  }
}
