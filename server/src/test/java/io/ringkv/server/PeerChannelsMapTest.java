package io.ringkv.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.ringkv.proto.internal.ClusterMap;
import io.ringkv.proto.internal.ClusterMember;
import io.ringkv.proto.v1.GetRequest;
import io.ringkv.proto.v1.GetResponse;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.proto.v1.ResponseHeader;
import io.ringkv.server.membership.ClusterMapView;
import java.net.InetSocketAddress;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Proves forwarding channels follow the cluster map: a node the map did not know gets no channel,
 * becomes reachable once a map adds it, moves with its address, and is unreachable again once a map
 * marks it REMOVED. Real gRPC servers on 127.0.4.5 and 127.0.4.6 stand in for the peer.
 */
class PeerChannelsMapTest {
  private Server first;
  private Server second;
  private PeerChannels channels;

  /** Answers every Get with a header naming {@code nodeId}. */
  static Server peer(String host, long nodeId) throws Exception {
    return NettyServerBuilder.forAddress(new InetSocketAddress(host, 0))
        .addService(
            new KVGrpc.KVImplBase() {
              @Override
              public void get(GetRequest request, StreamObserver<GetResponse> observer) {
                observer.onNext(
                    GetResponse.newBuilder()
                        .setHeader(ResponseHeader.newBuilder().setNodeId(nodeId))
                        .build());
                observer.onCompleted();
              }
            })
        .build()
        .start();
  }

  static ClusterMap map(long epoch, ClusterMember... members) {
    return ClusterMap.newBuilder()
        .setEpoch(epoch)
        .addAllMembers(java.util.List.of(members))
        .build();
  }

  static ClusterMember member(long id, String clientAddress, ClusterMember.State state) {
    return ClusterMember.newBuilder()
        .setNodeId(id)
        .setClientAddress(clientAddress)
        .setState(state)
        .build();
  }

  @AfterEach
  void stop() {
    if (channels != null) {
      channels.close();
    }
    for (Server server : new Server[] {first, second}) {
      if (server != null) {
        server.shutdownNow();
      }
    }
  }

  private long askNode5() {
    return channels
        .kv(5, null)
        .withDeadlineAfter(5, java.util.concurrent.TimeUnit.SECONDS)
        .get(GetRequest.getDefaultInstance())
        .getHeader()
        .getNodeId();
  }

  @Test
  void channelsFollowJoinsAddressChangesAndRemovals() throws Exception {
    first = peer("127.0.4.5", 50);
    second = peer("127.0.4.6", 60);
    String firstAddress = "127.0.4.5:" + first.getPort();
    String secondAddress = "127.0.4.6:" + second.getPort();
    ClusterMember self = member(1, "127.0.4.1:1", ClusterMember.State.ACTIVE);
    ClusterMapView view = new ClusterMapView(map(1, self));
    channels = new PeerChannels(1, BoundChannels.plaintext("127.0.4.1"), view, 1 << 20);

    assertThat(channels.clientAddress(5)).isEmpty();
    assertThatThrownBy(this::askNode5)
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));

    view.adopt(map(2, self, member(5, firstAddress, ClusterMember.State.ACTIVE)));
    assertThat(channels.clientAddress(5)).isEqualTo(firstAddress);
    assertThat(askNode5()).isEqualTo(50);

    view.adopt(map(3, self, member(5, secondAddress, ClusterMember.State.ACTIVE)));
    assertThat(askNode5()).isEqualTo(60);

    view.adopt(map(4, self, member(5, secondAddress, ClusterMember.State.REMOVED)));
    assertThatThrownBy(this::askNode5)
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getDescription()).contains("not a member"));
  }
}
