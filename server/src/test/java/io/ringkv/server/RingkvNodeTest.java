package io.ringkv.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.reflection.v1.ServiceResponse;
import io.grpc.stub.StreamObserver;
import io.ringkv.proto.v1.ClusterGrpc;
import io.ringkv.proto.v1.Member;
import io.ringkv.proto.v1.MembersRequest;
import io.ringkv.proto.v1.PartitionInfo;
import io.ringkv.proto.v1.PartitionsRequest;
import io.ringkv.proto.v1.PartitionsResponse;
import io.ringkv.proto.v1.StatusRequest;
import io.ringkv.proto.v1.StatusResponse;
import io.ringkv.proto.v1.TransferLeaderRequest;
import io.ringkv.server.config.ConfigLoader;
import io.ringkv.server.config.NodeConfig;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves a node starts from flags alone and is observable the way an operator expects: gRPC
 * reflection lists its services (what {@code grpcurl -plaintext host:7379 list} shows), the
 * standard health service and /health say SERVING, the Cluster service reports the configured
 * members and the placement, and two nodes of one cluster connect their peer transports. Real
 * sockets on 127.0.0.109/.110 throughout.
 */
class RingkvNodeTest {
  @TempDir Path dataDir;
  private final List<AutoCloseable> toClose = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = toClose.size() - 1; i >= 0; i--) {
      toClose.get(i).close();
    }
  }

  @Test
  void singleNodeServesReflectionHealthMetricsAndCluster() throws Exception {
    NodeConfig config = singleNodeConfig("--partitions", "8");
    RingkvNode node = RingkvNode.start(config);
    toClose.add(node);
    ManagedChannel channel = channel(node.clientAddress());

    assertThat(listServices(channel))
        .contains(
            "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "ringkv.v1.Cluster");
    assertThat(
            HealthGrpc.newBlockingStub(channel)
                .check(HealthCheckRequest.getDefaultInstance())
                .getStatus())
        .isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
    assertThat(httpGet(node.metricsAddress(), "/health").statusCode()).isEqualTo(200);
    assertThat(httpGet(node.metricsAddress(), "/metrics").body()).contains("jvm_threads_live");

    ClusterGrpc.ClusterBlockingStub cluster = ClusterGrpc.newBlockingStub(channel);
    StatusResponse status = cluster.status(StatusRequest.getDefaultInstance());
    assertThat(status.getClusterId()).isEqualTo("ringkv");
    assertThat(status.getNodeId()).isEqualTo(1);
    assertThat(status.getPartitionCount()).isEqualTo(8);
    assertThat(status.getReplicationFactor()).isEqualTo(1);
    PartitionsResponse partitions = cluster.partitions(PartitionsRequest.getDefaultInstance());
    assertThat(partitions.getPartitionsList()).hasSize(8);
    PartitionInfo last = partitions.getPartitions(7);
    assertThat(last.getHashEnd()).isEqualTo(-1L); // 2^64 - 1
    assertThat(last.getHashStart()).isEqualTo(0xE000000000000000L);
    assertThat(last.getReplicasList()).containsExactly(1L);
    assertThatThrownBy(
            () -> cluster.partitions(PartitionsRequest.newBuilder().addPartitions(8).build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));
    assertThatThrownBy(() -> cluster.transferLeader(TransferLeaderRequest.getDefaultInstance()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));

    InetSocketAddress metrics = node.metricsAddress();
    node.close();
    assertThat(node.isServing()).isFalse();
    assertThatThrownBy(() -> httpGet(metrics, "/health")).isInstanceOf(IOException.class);
  }

  @Test
  void requestAboveTheSizeLimitIsRefusedAndCounted() throws Exception {
    NodeConfig config =
        singleNodeConfig(
            "--partitions", "4096",
            "--key-size-bytes-max", "100",
            "--value-size-bytes-max", "100",
            "--request-size-bytes-max", "1024");
    RingkvNode node = RingkvNode.start(config);
    toClose.add(node);
    ClusterGrpc.ClusterBlockingStub cluster =
        ClusterGrpc.newBlockingStub(channel(node.clientAddress()));
    PartitionsRequest.Builder big = PartitionsRequest.newBuilder();
    for (int partition = 0; partition < 1000; partition++) {
      big.addPartitions(partition + 3000); // about 2 bytes each: over 1024 bytes in all
    }
    assertThat(big.build().getSerializedSize()).isGreaterThan(1024);
    assertThatThrownBy(() -> cluster.partitions(big.build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED));
    assertThat(
            cluster
                .partitions(PartitionsRequest.newBuilder().addPartitions(5).build())
                .getPartitionsCount())
        .isEqualTo(1);
    String metrics = httpGet(node.metricsAddress(), "/metrics").body();
    assertThat(metrics)
        .contains("ringkv_grpc_calls_total{code=\"RESOURCE_EXHAUSTED\"} 1.0")
        .contains("ringkv_grpc_calls_total{code=\"OK\"} 1.0");
  }

  @Test
  void twoNodesOfOneClusterConnectTheirPeerTransports() throws Exception {
    String hostOne = "127.0.0.109";
    String hostTwo = "127.0.0.110";
    int[] one = {freePort(hostOne), freePort(hostOne), freePort(hostOne)};
    int[] two = {freePort(hostTwo), freePort(hostTwo), freePort(hostTwo)};
    String members =
        "1@" + hostOne + ":" + one[0] + ":" + one[1] + ",2@" + hostTwo + ":" + two[0] + ":"
            + two[1];
    RingkvNode nodeOne = RingkvNode.start(nodeConfig(1, hostOne, one, members));
    toClose.add(nodeOne);
    RingkvNode nodeTwo = RingkvNode.start(nodeConfig(2, hostTwo, two, members));
    toClose.add(nodeTwo);

    ClusterGrpc.ClusterBlockingStub cluster =
        ClusterGrpc.newBlockingStub(channel(nodeTwo.clientAddress()));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    List<Member> seen;
    do {
      seen = cluster.members(MembersRequest.getDefaultInstance()).getMembersList();
      if (seen.stream().allMatch(m -> m.getState() == Member.State.ALIVE)) {
        break;
      }
      TimeUnit.MILLISECONDS.sleep(10); // polling interval of a bounded wait
    } while (System.nanoTime() < deadline);
    assertThat(seen).extracting(Member::getNodeId).containsExactly(1L, 2L);
    assertThat(seen).allMatch(m -> m.getState() == Member.State.ALIVE);
    assertThat(seen.get(0).getPeerAddress()).isEqualTo(hostOne + ":" + one[1]);
    // Members' ALIVE is gossip's word now, which can come before the peer connection is up.
    String connected = "ringkv_peer_connections_established_total{direction=\"out\"} 1.0";
    long connectDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    String metrics = httpGet(nodeOne.metricsAddress(), "/metrics").body();
    while (!metrics.contains(connected) && System.nanoTime() < connectDeadline) {
      TimeUnit.MILLISECONDS.sleep(10); // polling interval of a bounded wait
      metrics = httpGet(nodeOne.metricsAddress(), "/metrics").body();
    }
    assertThat(metrics).contains(connected);
    PartitionsResponse partitions =
        cluster.partitions(PartitionsRequest.newBuilder().addPartitions(3).build());
    assertThat(partitions.getPartitions(0).getReplicasList()).containsExactlyInAnyOrder(1L, 2L);
  }

  /** A single node on 127.0.0.109 with free ports, plus {@code extraFlags}. */
  private NodeConfig singleNodeConfig(String... extraFlags) throws IOException {
    String host = "127.0.0.109";
    List<String> flags =
        new ArrayList<>(
            List.of(
                "--data-dir", dataDir.toString(),
                "--host", host,
                "--client-addr", ":" + freePort(host),
                "--peer-addr", ":" + freePort(host),
                "--metrics-addr", ":" + freePort(host)));
    flags.addAll(List.of(extraFlags));
    return ConfigLoader.load(flags.toArray(String[]::new));
  }

  private NodeConfig nodeConfig(long nodeId, String host, int[] ports, String members) {
    return ConfigLoader.load(
        new String[] {
          "--data-dir",
          dataDir.resolve("n" + nodeId).toString(),
          "--node-id",
          Long.toString(nodeId),
          "--cluster-id",
          "pair",
          "--host",
          host,
          "--client-addr",
          ":" + ports[0],
          "--peer-addr",
          ":" + ports[1],
          "--metrics-addr",
          ":" + ports[2],
          "--members",
          members,
          "--partitions",
          "16"
        });
  }

  private ManagedChannel channel(InetSocketAddress address) {
    ManagedChannel channel = NettyChannelBuilder.forAddress(address).usePlaintext().build();
    toClose.add(() -> {
      channel.shutdownNow();
      channel.awaitTermination(5, TimeUnit.SECONDS);
    });
    return channel;
  }

  private static List<String> listServices(ManagedChannel channel) throws Exception {
    CompletableFuture<List<String>> result = new CompletableFuture<>();
    StreamObserver<ServerReflectionRequest> requests =
        ServerReflectionGrpc.newStub(channel)
            .withDeadlineAfter(10, TimeUnit.SECONDS)
            .serverReflectionInfo(
                new StreamObserver<>() {
                  @Override
                  public void onNext(ServerReflectionResponse response) {
                    result.complete(
                        response.getListServicesResponse().getServiceList().stream()
                            .map(ServiceResponse::getName)
                            .toList());
                  }

                  @Override
                  public void onError(Throwable error) {
                    result.completeExceptionally(error);
                  }

                  @Override
                  public void onCompleted() {}
                });
    requests.onNext(ServerReflectionRequest.newBuilder().setListServices("").build());
    List<String> services = result.get(10, TimeUnit.SECONDS);
    requests.onCompleted();
    return services;
  }

  private static HttpResponse<String> httpGet(InetSocketAddress address, String path)
      throws IOException, InterruptedException {
    try (HttpClient client =
        HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()) {
      return client.send(
          HttpRequest.newBuilder(
                  URI.create("http://" + address.getHostString() + ":" + address.getPort() + path))
              .timeout(Duration.ofSeconds(10))
              .build(),
          HttpResponse.BodyHandlers.ofString());
    }
  }

  private static int freePort(String host) throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName(host))) {
      return socket.getLocalPort();
    }
  }
}
