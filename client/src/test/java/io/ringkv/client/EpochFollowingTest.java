package io.ringkv.client;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.ringkv.proto.v1.ClusterGrpc;
import io.ringkv.proto.v1.Member;
import io.ringkv.proto.v1.MembersRequest;
import io.ringkv.proto.v1.MembersResponse;
import io.ringkv.proto.v1.PartitionsRequest;
import io.ringkv.proto.v1.PartitionsResponse;
import io.ringkv.proto.v1.ResponseHeader;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Proves the client follows the cluster map's epoch: any response header with a newer epoch (also
 * of a serializable read, which no leader served) refreshes the map; the refresh passes over a node
 * still on an older map and takes the newer one; in it a node that joined becomes a candidate and a
 * node the map holds REMOVED is dropped for good (not even a last resort). Two scripted Cluster
 * services on 127.0.4.11 and 127.0.4.12 play a stale and an up-to-date node.
 */
class EpochFollowingTest {
  static final String STALE_HOST = "127.0.4.11";
  static final String CURRENT_HOST = "127.0.4.12";
  static final String REMOVED_ADDRESS = "127.0.4.13:7379";
  static final String JOINED_ADDRESS = "127.0.4.17:7379";

  /** Answers the map of PartitionMapTest at {@code epoch}, with the members it is given. */
  static final class ScriptedCluster extends ClusterGrpc.ClusterImplBase {
    volatile long epoch = 4;
    volatile MembersResponse members;

    @Override
    public void partitions(PartitionsRequest request, StreamObserver<PartitionsResponse> observer) {
      observer.onNext(PartitionMapTest.partitions(epoch));
      observer.onCompleted();
    }

    @Override
    public void members(MembersRequest request, StreamObserver<MembersResponse> observer) {
      observer.onNext(members.toBuilder().setMapEpoch(epoch).build());
      observer.onCompleted();
    }
  }

  private Server stale;
  private Server current;

  @AfterEach
  void stop() {
    for (Server server : new Server[] {stale, current}) {
      if (server != null) {
        server.shutdownNow();
      }
    }
  }

  static Member member(long id, String address, String mapState) {
    return Member.newBuilder()
        .setNodeId(id)
        .setClientAddress(address)
        .setState(Member.State.ALIVE)
        .setMapState(mapState)
        .build();
  }

  static Server serve(String host, ScriptedCluster cluster) throws Exception {
    return NettyServerBuilder.forAddress(new InetSocketAddress(host, 0))
        .addService(cluster)
        .build()
        .start();
  }

  @Test
  void newerEpochRefreshesPastStaleNodesAddsJoinedAndDropsRemoved() throws Exception {
    ScriptedCluster staleCluster = new ScriptedCluster();
    ScriptedCluster currentCluster = new ScriptedCluster();
    stale = serve(STALE_HOST, staleCluster);
    current = serve(CURRENT_HOST, currentCluster);
    String staleAddress = STALE_HOST + ":" + stale.getPort();
    String currentAddress = CURRENT_HOST + ":" + current.getPort();
    MembersResponse before =
        MembersResponse.newBuilder()
            .addMembers(member(1, staleAddress, "active"))
            .addMembers(member(2, currentAddress, "active"))
            .addMembers(member(3, REMOVED_ADDRESS, "active"))
            .build();
    staleCluster.members = before;
    currentCluster.members = before;

    try (RingKvClient client = RingKvClient.builder().endpoints(staleAddress).build()) {
      Router router = client.router();
      assertThat(router.refresh().get(5, TimeUnit.SECONDS).epoch()).isEqualTo(4);
      assertThat(router.current().memberAddresses()).contains(REMOVED_ADDRESS);

      // Node 3 is removed as dead and node 7 joins: the up-to-date node answers epoch 6.
      currentCluster.members =
          MembersResponse.newBuilder()
              .addMembers(member(1, staleAddress, "active"))
              .addMembers(member(2, currentAddress, "active"))
              .addMembers(member(3, REMOVED_ADDRESS, "removed"))
              .addMembers(member(7, JOINED_ADDRESS, "active"))
              .build();
      currentCluster.epoch = 6;
      byte[] key = "k".getBytes(StandardCharsets.UTF_8);
      router.onServed(key, ResponseHeader.newBuilder().setNodeId(1).setMapEpoch(4).build(), false);
      assertThat(router.refreshCount()).isEqualTo(1);
      router.onServed(key, ResponseHeader.newBuilder().setNodeId(2).setMapEpoch(6).build(), false);
      assertThat(router.refreshCount()).isEqualTo(2);
      assertThat(router.refresh(6).get(5, TimeUnit.SECONDS).epoch()).isEqualTo(6);

      PartitionMap map = router.current();
      assertThat(map.memberAddresses()).contains(JOINED_ADDRESS).doesNotContain(REMOVED_ADDRESS);
      assertThat(map.goneAddresses()).doesNotContain(REMOVED_ADDRESS);
      assertThat(router.candidates(key)).contains(JOINED_ADDRESS).doesNotContain(REMOVED_ADDRESS);
    }
  }

  @Test
  void anEpochFromAnAdminAnswerRefreshes() throws Exception {
    ScriptedCluster cluster = new ScriptedCluster();
    cluster.members =
        MembersResponse.newBuilder().addMembers(member(1, REMOVED_ADDRESS, "active")).build();
    current = serve(CURRENT_HOST, cluster);
    try (RingKvClient client =
        RingKvClient.builder().endpoints(CURRENT_HOST + ":" + current.getPort()).build()) {
      Router router = client.router();
      router.refresh().get(5, TimeUnit.SECONDS);
      router.onEpoch(4);
      assertThat(router.refreshCount()).isEqualTo(1);
      cluster.epoch = 9;
      router.onEpoch(9);
      assertThat(router.refreshCount()).isEqualTo(2);
      assertThat(router.refresh(9).get(5, TimeUnit.SECONDS).epoch()).isEqualTo(9);
    }
  }
}
