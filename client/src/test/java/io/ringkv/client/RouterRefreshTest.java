package io.ringkv.client;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.ringkv.proto.v1.ClusterGrpc;
import io.ringkv.proto.v1.ErrorDetail;
import io.ringkv.proto.v1.MembersRequest;
import io.ringkv.proto.v1.MembersResponse;
import io.ringkv.proto.v1.PartitionsRequest;
import io.ringkv.proto.v1.PartitionsResponse;
import io.ringkv.proto.v1.ResponseHeader;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Proves the routing cache's refresh over real gRPC: many concurrent refresh requests while one is
 * running share it (single flight); a NOT_LEADER with a newer epoch refreshes, one with a hint in
 * the same epoch only moves that partition's leader; a response header naming another replica as
 * the server moves the cached leader, and one with a newer epoch refreshes.
 */
class RouterRefreshTest {
  /** Serves the map of PartitionMapTest, holding Partitions answers until released. */
  static final class SlowCluster extends ClusterGrpc.ClusterImplBase {
    final AtomicInteger partitionCalls = new AtomicInteger();
    final CountDownLatch release = new CountDownLatch(1);
    volatile long epoch = 4;

    @Override
    public void partitions(PartitionsRequest request, StreamObserver<PartitionsResponse> observer) {
      partitionCalls.incrementAndGet();
      CompletableFuture.runAsync(() -> {
        try {
          release.await(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        observer.onNext(PartitionMapTest.partitions(epoch));
        observer.onCompleted();
      });
    }

    @Override
    public void members(MembersRequest request, StreamObserver<MembersResponse> observer) {
      observer.onNext(PartitionMapTest.members());
      observer.onCompleted();
    }
  }

  @Test
  void concurrentRefreshesShareOneFetch() throws Exception {
    SlowCluster cluster = new SlowCluster();
    Server server =
        NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
            .addService(cluster)
            .build()
            .start();
    try (RingKvClient client =
        RingKvClient.builder().endpoints("127.0.0.1:" + server.getPort()).build()) {
      Router router = client.router();
      List<CompletableFuture<PartitionMap>> refreshes = new ArrayList<>();
      for (int i = 0; i < 20; i++) {
        refreshes.add(router.refresh());
      }
      cluster.release.countDown();
      for (CompletableFuture<PartitionMap> refresh : refreshes) {
        assertThat(refresh.get(5, TimeUnit.SECONDS).epoch()).isEqualTo(4);
      }
      assertThat(cluster.partitionCalls).hasValue(1);
      assertThat(router.refreshCount()).isEqualTo(1);

      // Same epoch with a hint: no fetch, the partition's leader moves.
      router.onNotLeader(
          ErrorDetail.newBuilder()
              .setReason(ErrorDetail.Reason.NOT_LEADER)
              .setPartition(0)
              .setLeaderHint(3)
              .setMapEpoch(4)
              .build());
      assertThat(router.refreshCount()).isEqualTo(1);
      assertThat(router.current().partition(0).getLeaderNodeId()).isEqualTo(3);

      // A newer epoch: the map is stale, fetch it again.
      cluster.epoch = 5;
      router.onNotLeader(
          ErrorDetail.newBuilder()
              .setReason(ErrorDetail.Reason.NOT_LEADER)
              .setPartition(0)
              .setLeaderHint(2)
              .setMapEpoch(5)
              .build());
      assertThat(router.refreshCount()).isEqualTo(2);
      assertThat(router.refresh().get(5, TimeUnit.SECONDS).epoch()).isEqualTo(5);
    } finally {
      server.shutdownNow();
    }
  }

  @Test
  void responseHeadersMoveTheCachedLeader() {
    try (RingKvClient client = RingKvClient.builder().endpoints("127.0.0.1:1").build()) {
      Router router = client.router();
      router.install(PartitionMap.of(PartitionMapTest.partitions(4), PartitionMapTest.members()));
      byte[] key = null;
      for (int i = 0; key == null; i++) {
        byte[] candidate = ("k" + i).getBytes(java.nio.charset.StandardCharsets.UTF_8);
        if (router.current().partitionOf(candidate) == 0) {
          key = candidate; // partition 0: replicas 1, 2, 3, leader 1
        }
      }
      router.onServed(key, ResponseHeader.newBuilder().setNodeId(9).setMapEpoch(4).build(), true);
      assertThat(router.current().partition(0).getLeaderNodeId()).isEqualTo(1); // not a replica
      router.onServed(key, ResponseHeader.newBuilder().setNodeId(2).setMapEpoch(4).build(), true);
      assertThat(router.current().partition(0).getLeaderNodeId()).isEqualTo(2);
      assertThat(router.current().leaderFor(key)).isEqualTo(PartitionMapTest.address(2));
      assertThat(router.refreshCount()).isZero();
      router.onServed(key, ResponseHeader.newBuilder().setNodeId(2).setMapEpoch(5).build(), true);
      assertThat(router.refreshCount()).isEqualTo(1);
    }
  }
}
