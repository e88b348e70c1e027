package io.ringkv.server.membership;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.ringkv.proto.internal.ClusterMap;
import io.ringkv.proto.internal.ClusterMember;
import io.ringkv.proto.internal.GetClusterMapRequest;
import io.ringkv.proto.internal.ReplicaAdminGrpc;
import io.ringkv.server.BoundChannels;
import io.ringkv.server.config.HostPort;
import io.ringkv.server.config.Member;
import io.ringkv.server.config.NodeConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which cluster map a node starts from, and the configuration it then runs with.
 *
 * <p>A node starts from the map it persisted last; on its very first start from the map every
 * configured member computes alike ({@link ClusterMaps#initial}), and then it also bootstraps its
 * replicas from that map; in join mode from a map fetched from a running member, bootstrapping
 * nothing. Only a first start bootstraps: a replica destroyed at run time must not come back from
 * the configuration at the next start. The partition count, replication factor, virtual tokens and
 * members then come from the map, not from the flags, since joins and decommissions change them.
 */
public final class ClusterMapStart {
  private static final Logger log = LoggerFactory.getLogger(ClusterMapStart.class);

  /** How long a joining node keeps trying its seeds for the map before it gives up starting. */
  public static final long JOIN_FETCH_MILLIS_MAX = 60_000;

  /** Deadline of one GetClusterMap call to one seed. */
  public static final long JOIN_FETCH_CALL_MILLIS_MAX = 2_000;

  /** Pause between two rounds over the seeds. */
  public static final long JOIN_FETCH_RETRY_MILLIS = 500;

  /**
   * @param map the map the node starts from
   * @param bootstrap whether this is the first start of a configured member: bootstrap the groups
   *     the map places here
   */
  public record Start(ClusterMap map, boolean bootstrap) {}

  /** Fetches the map from one seed; empty when it did not answer. */
  public interface MapFetcher {
    Optional<ClusterMap> fetch(HostPort seed);
  }

  private ClusterMapStart() {}

  /**
   * The map to start from.
   *
   * @throws IllegalStateException the persisted or fetched map is of another cluster, or no seed
   *     answered in time
   */
  public static Start choose(
      NodeConfig config, ClusterMapFile file, MapFetcher fetcher, LongSupplier millis)
      throws InterruptedException {
    Optional<ClusterMap> persisted = file.read();
    if (persisted.isPresent()) {
      checkCluster(config, persisted.get(), file.path().toString());
      log.info("starting from the persisted cluster map, epoch {}", persisted.get().getEpoch());
      return new Start(persisted.get(), false);
    }
    if (!config.membership().joining()) {
      return new Start(ClusterMaps.initial(config), true);
    }
    long deadline = millis.getAsLong() + JOIN_FETCH_MILLIS_MAX;
    while (true) {
      for (HostPort seed : config.membership().join()) {
        Optional<ClusterMap> fetched = fetcher.fetch(seed);
        if (fetched.isPresent()) {
          checkCluster(config, fetched.get(), "the map of " + seed);
          log.info("join: cluster map epoch {} from {}", fetched.get().getEpoch(), seed);
          return new Start(fetched.get(), false);
        }
      }
      if (millis.getAsLong() > deadline) {
        throw new IllegalStateException(
            "join: no seed of "
                + config.membership().join()
                + " answered GetClusterMap within "
                + JOIN_FETCH_MILLIS_MAX
                + " ms");
      }
      TimeUnit.MILLISECONDS.sleep(JOIN_FETCH_RETRY_MILLIS); // between rounds over the seeds
    }
  }

  private static void checkCluster(NodeConfig config, ClusterMap map, String source) {
    if (!map.getClusterId().equals(config.clusterId())) {
      throw new IllegalStateException(
          source
              + " is of cluster '"
              + map.getClusterId()
              + "', this node is configured for '"
              + config.clusterId()
              + "'");
    }
  }

  /** GetClusterMap over gRPC, from this node's own host (so per-node firewall rules apply). */
  public static MapFetcher grpcFetcher(String clusterId, BoundChannels boundChannels) {
    return seed -> {
      ManagedChannel channel = boundChannels.to(seed).build();
      try {
        return Optional.of(
            ReplicaAdminGrpc.newBlockingStub(channel)
                .withDeadlineAfter(JOIN_FETCH_CALL_MILLIS_MAX, TimeUnit.MILLISECONDS)
                .getClusterMap(GetClusterMapRequest.newBuilder().setClusterId(clusterId).build())
                .getMap());
      } catch (StatusRuntimeException e) {
        log.info("join: seed {} did not give the map: {}", seed, e.getStatus());
        return Optional.empty();
      } finally {
        channel.shutdownNow();
      }
    };
  }

  /**
   * {@code config} with the cluster's shape (partitions, replication factor, virtual tokens) and
   * members (all but REMOVED ones, this node always included) taken from {@code map}.
   */
  public static NodeConfig shapedBy(NodeConfig config, ClusterMap map) {
    List<Member> members = new ArrayList<>();
    boolean self = false;
    for (ClusterMember member : map.getMembersList()) {
      if (member.getState() == ClusterMember.State.REMOVED
          && member.getNodeId() != config.nodeId()) {
        continue;
      }
      self |= member.getNodeId() == config.nodeId();
      members.add(member(member));
    }
    if (!self) {
      members.add(config.self());
    }
    members.sort((a, b) -> Long.compare(a.nodeId(), b.nodeId()));
    return new NodeConfig(
        config.clusterId(),
        config.nodeId(),
        config.dataDir(),
        config.clientAddress(),
        config.peerAddress(),
        config.metricsAddress(),
        config.advertiseClientAddress(),
        config.advertisePeerAddress(),
        members,
        (int) map.getPartitionCount(),
        (int) map.getReplicationFactor(),
        (int) map.getVirtualTokensPerNode(),
        config.limits(),
        config.raftTickMillis(),
        config.raftReadOnlyMode(),
        config.logCompactionEntries(),
        config.leaderBalanceIntervalMillis(),
        config.debugUnsafeStaleReads(),
        config.debugUnsyncedWrites(),
        config.raftLogEngine(),
        config.raftLogEngineSet(),
        config.changefeedRetentionCheckIntervalMillis(),
        config.changefeedRetentionAgeMillis(),
        config.snapshotSizeBytesMax(),
        config.sessionExpiryMillis(),
        config.pipeline(),
        config.gossip(),
        config.slowNode(),
        config.watch(),
        config.membership(),
        config.tls(),
        config.diskQuotaBytes(),
        config.auth());
  }

  /** A map member as the configuration's member record. */
  public static Member member(ClusterMember member) {
    return new Member(
        member.getNodeId(),
        HostPort.parse(member.getClientAddress(), "127.0.0.1", 0),
        HostPort.parse(member.getPeerAddress(), "127.0.0.1", 0));
  }

  /** The voters the map records for each data partition (index = partition). */
  public static List<List<Long>> partitionVoters(ClusterMap map) {
    List<List<Long>> voters = new ArrayList<>();
    for (int partition = 0; partition < map.getPartitionCount(); partition++) {
      voters.add(List.copyOf(map.getGroups(partition).getVotersList()));
    }
    return voters;
  }
}
