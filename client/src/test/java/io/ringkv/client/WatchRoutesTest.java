package io.ringkv.client;

import static org.assertj.core.api.Assertions.assertThat;

import io.ringkv.proto.v1.Member;
import io.ringkv.proto.v1.MembersResponse;
import io.ringkv.proto.v1.PartitionInfo;
import io.ringkv.proto.v1.PartitionsResponse;
import io.ringkv.routing.PartitionLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Proves how a watch picks its streams: with every node holding every partition, one stream; with
 * more nodes than the replication factor, one stream per chosen node, each partition covered
 * exactly once by a node holding a replica of it, spread evenly; a recently failed node is avoided
 * while a replica elsewhere exists; a key watch opens one stream to a replica of the key's
 * partition; and without a map the seeds serve.
 */
class WatchRoutesTest {
  static final int PARTITIONS = 16;

  /** {@code nodes} members; partition p on nodes p%nodes+1 and the next two. */
  static PartitionMap map(int nodes) {
    PartitionLayout layout = PartitionLayout.of(PARTITIONS);
    PartitionsResponse.Builder partitions =
        PartitionsResponse.newBuilder().setMapEpoch(1).setPartitionCount(PARTITIONS);
    for (int p = 0; p < PARTITIONS; p++) {
      List<Long> replicas = new ArrayList<>();
      for (int r = 0; r < Math.min(3, nodes); r++) {
        replicas.add((long) (p + r) % nodes + 1);
      }
      partitions.addPartitions(
          PartitionInfo.newBuilder()
              .setId(p)
              .setHashStart(layout.rangeStart(p))
              .setHashEnd(layout.rangeEnd(p))
              .addAllReplicas(replicas)
              .setLeaderNodeId(replicas.get(0)));
    }
    MembersResponse.Builder members = MembersResponse.newBuilder();
    for (long id = 1; id <= nodes; id++) {
      members.addMembers(Member.newBuilder().setNodeId(id).setClientAddress(address(id)));
    }
    return PartitionMap.of(partitions.build(), members.build());
  }

  static String address(long node) {
    return "127.0.0." + (110 + node) + ":7379";
  }

  @Test
  void everyNodeHoldingEverythingMeansOneStream() {
    List<WatchRoutes.Route> routes =
        WatchRoutes.plan(map(3), WatchQuery.all(), List.of(), Set.of(), 1);
    assertThat(routes).hasSize(1);
    assertThat(routes.get(0).partitions()).isEmpty();
    assertThat(routes.get(0).address()).isEqualTo(address(2));
    assertThat(WatchRoutes.plan(map(3), WatchQuery.all(), List.of(), Set.of(address(2)), 1))
        .extracting(WatchRoutes.Route::address)
        .containsExactly(address(3));
  }

  @Test
  void moreNodesThanReplicasMeansAStreamPerNodeCoveringEachPartitionOnce() {
    PartitionMap map = map(5);
    List<WatchRoutes.Route> routes =
        WatchRoutes.plan(map, WatchQuery.prefix("p"), List.of(), Set.of(address(1)), 0);
    Map<Integer, String> coveredBy = new HashMap<>();
    Map<String, Integer> load = new HashMap<>();
    for (WatchRoutes.Route route : routes) {
      assertThat(route.address()).isNotEqualTo(address(1));
      for (int partition : route.partitions()) {
        assertThat(coveredBy.put(partition, route.address()))
            .as("partition %d twice", partition)
            .isNull();
        assertThat(map.replicaAddresses(partition)).contains(route.address());
        load.merge(route.address(), 1, Integer::sum);
      }
    }
    assertThat(coveredBy).hasSize(PARTITIONS);
    // 16 partitions over the 4 nodes left: no node serves more than one partition over its share.
    assertThat(load.values()).allSatisfy(count -> assertThat(count).isLessThanOrEqualTo(5));
  }

  @Test
  void aKeyWatchOpensOneStreamToAReplicaOfItsPartition() {
    PartitionMap map = map(5);
    byte[] key = "user/42".getBytes(java.nio.charset.StandardCharsets.UTF_8);
    int partition = map.partitionOf(key);
    List<WatchRoutes.Route> routes =
        WatchRoutes.plan(map, WatchQuery.key(key), List.of(), Set.of(), 0);
    assertThat(routes).hasSize(1);
    assertThat(routes.get(0).partitions()).containsExactly(partition);
    assertThat(map.replicaAddresses(partition)).contains(routes.get(0).address());
  }

  @Test
  void withoutAMapTheSeedsServe() {
    List<String> seeds = List.of("127.0.0.117:7379", "127.0.0.118:7379");
    assertThat(WatchRoutes.plan(null, WatchQuery.all(), seeds, Set.of(seeds.get(1)), 1))
        .containsExactly(new WatchRoutes.Route(seeds.get(0), List.of()));
  }
}
