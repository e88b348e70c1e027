package io.ringkv.server.membership;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.ringkv.proto.internal.ChangeReplicasRequest;
import io.ringkv.proto.internal.ChangeReplicasResponse;
import io.ringkv.proto.internal.ClusterMap;
import io.ringkv.proto.internal.ClusterMember;
import io.ringkv.proto.internal.CreateReplicaRequest;
import io.ringkv.proto.internal.CreateReplicaResponse;
import io.ringkv.proto.internal.GroupConf;
import io.ringkv.proto.internal.GroupProgressRequest;
import io.ringkv.proto.internal.GroupProgressResponse;
import io.ringkv.proto.internal.GroupReplicas;
import io.ringkv.proto.internal.MemberProgress;
import io.ringkv.proto.internal.ReplicaAdminGrpc;
import io.ringkv.proto.v1.ClusterGrpc;
import io.ringkv.proto.v1.ErrorDetail;
import io.ringkv.proto.v1.Member;
import io.ringkv.proto.v1.MembersRequest;
import io.ringkv.proto.v1.MembersResponse;
import io.ringkv.proto.v1.StatusRequest;
import io.ringkv.proto.v1.StatusResponse;
import io.ringkv.server.KvErrors;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Proves the gRPC replica operations against small fake nodes on loopback (127.0.3.x): calls for a
 * group's leader follow NOT_LEADER hints and GroupProgress's leader from a follower, a node that
 * never answers costs one deadline and the next voter is tried, requests carry the cluster id and
 * the map, and describeNode reads a node's id, cluster and peer address from Status and Members.
 */
class GrpcReplicaOpsTest {
  private static final String HOST_PREFIX = "127.0.3.";
  private static final long SELF_HOST_SUFFIX = 50;
  // Generous: a first call opens its channel, on a machine shared with other builds.
  private static final long DEADLINE_MILLIS = 2_000;
  private static final int GROUP = 0;

  private final List<Server> servers = new ArrayList<>();
  private final List<FakeNode> nodes = new ArrayList<>();
  private GrpcReplicaOps ops;

  /** One node's ReplicaAdmin and Cluster: leads GROUP if {@code leader} says so. */
  private static final class FakeNode {
    final long id;
    final boolean silent;
    long leader;
    boolean hosted = true;
    boolean inMap = true;
    final List<Object> requests = new CopyOnWriteArrayList<>();
    String address;

    FakeNode(long id, long leader, boolean silent) {
      this.id = id;
      this.leader = leader;
      this.silent = silent;
    }

    ReplicaAdminGrpc.ReplicaAdminImplBase admin() {
      return new ReplicaAdminGrpc.ReplicaAdminImplBase() {
        @Override
        public void changeReplicas(
            ChangeReplicasRequest request, StreamObserver<ChangeReplicasResponse> observer) {
          requests.add(request);
          if (silent) {
            return;
          }
          if (leader != id) {
            observer.onError(notLeader());
            return;
          }
          observer.onNext(
              ChangeReplicasResponse.newBuilder()
                  .setConf(GroupConf.newBuilder().addVoters(1).addVoters(2).addVoters(3))
                  .setLeaderNodeId(id)
                  .build());
          observer.onCompleted();
        }

        @Override
        public void groupProgress(
            GroupProgressRequest request, StreamObserver<GroupProgressResponse> observer) {
          requests.add(request);
          if (silent) {
            return;
          }
          if (!hosted) {
            observer.onNext(GroupProgressResponse.newBuilder().setHosted(false).build());
            observer.onCompleted();
            return;
          }
          GroupProgressResponse.Builder response =
              GroupProgressResponse.newBuilder().setHosted(true).setLeaderNodeId(leader);
          if (leader == id) {
            response.addProgress(MemberProgress.newBuilder().setNodeId(id).setMatchIndex(7));
          }
          observer.onNext(response.build());
          observer.onCompleted();
        }

        @Override
        public void createReplica(
            CreateReplicaRequest request, StreamObserver<CreateReplicaResponse> observer) {
          requests.add(request);
          observer.onNext(CreateReplicaResponse.newBuilder().setCreated(true).build());
          observer.onCompleted();
        }
      };
    }

    ClusterGrpc.ClusterImplBase cluster() {
      return new ClusterGrpc.ClusterImplBase() {
        @Override
        public void status(StatusRequest request, StreamObserver<StatusResponse> observer) {
          // A node outside the map (join mode) is only in its own gossip view.
          observer.onNext(
              StatusResponse.newBuilder()
                  .setNodeId(id)
                  .setClusterId(TestMaps.CLUSTER_ID)
                  .addMembers(Member.newBuilder().setNodeId(id).setPeerAddress("gossip-of-" + id))
                  .build());
          observer.onCompleted();
        }

        @Override
        public void members(MembersRequest request, StreamObserver<MembersResponse> observer) {
          MembersResponse.Builder response = MembersResponse.newBuilder();
          if (inMap) {
            response.addMembers(Member.newBuilder().setNodeId(id).setPeerAddress("peer-of-" + id));
          }
          observer.onNext(response.build());
          observer.onCompleted();
        }
      };
    }

    private RuntimeException notLeader() {
      return KvErrors.of(
          Status.Code.UNAVAILABLE,
          "not the leader of group " + GROUP,
          ErrorDetail.newBuilder()
              .setReason(ErrorDetail.Reason.NOT_LEADER)
              .setPartition(GROUP)
              .setLeaderHint(leader)
              .build());
    }
  }

  private ClusterMap startNodes(FakeNode... fakes) throws IOException {
    ClusterMap.Builder map =
        ClusterMap.newBuilder()
            .setEpoch(1)
            .setClusterId(TestMaps.CLUSTER_ID)
            .setPartitionCount(1)
            .setReplicationFactor(3);
    GroupReplicas.Builder voters = GroupReplicas.newBuilder();
    for (FakeNode fake : fakes) {
      Server server =
          NettyServerBuilder.forAddress(new InetSocketAddress(HOST_PREFIX + fake.id, 0))
              .addService(fake.admin())
              .addService(fake.cluster())
              .build()
              .start();
      servers.add(server);
      nodes.add(fake);
      fake.address = HOST_PREFIX + fake.id + ":" + server.getPort();
      map.addMembers(
          ClusterMember.newBuilder()
              .setNodeId(fake.id)
              .setClientAddress(fake.address)
              .setState(ClusterMember.State.ACTIVE));
      if (fake.id <= 3) {
        voters.addVoters(fake.id);
      }
    }
    map.addGroups(voters).addGroups(GroupReplicas.newBuilder().addVoters(1));
    ClusterMap built = map.build();
    ops =
        new GrpcReplicaOps(
            new ClusterMapView(built),
            io.ringkv.server.BoundChannels.plaintext(HOST_PREFIX + SELF_HOST_SUFFIX),
            DEADLINE_MILLIS,
            DEADLINE_MILLIS);
    return built;
  }

  @AfterEach
  void stop() {
    if (ops != null) {
      ops.close();
    }
    for (Server server : servers) {
      server.shutdownNow();
    }
  }

  @Test
  void changeReplicasFollowsTheNotLeaderHintToTheLeader() throws IOException {
    startNodes(new FakeNode(1, 3, false), new FakeNode(2, 3, false), new FakeNode(3, 3, false));
    ChangeReplicasResponse response =
        ops.changeReplicas(GROUP, ChangeReplicasRequest.newBuilder().setGroup(GROUP).build())
            .join();
    assertEquals(3, response.getLeaderNodeId());
    assertEquals(1, nodes.get(0).requests.size(), "asked node 1 first, as the map's first voter");
    assertEquals(0, nodes.get(1).requests.size(), "the hint skipped node 2");
    assertEquals(1, nodes.get(2).requests.size());
    // The leader seen is asked first next time.
    ops.changeReplicas(GROUP, ChangeReplicasRequest.newBuilder().setGroup(GROUP).build()).join();
    assertEquals(1, nodes.get(0).requests.size());
  }

  @Test
  void groupProgressFromAFollowerGoesOnToTheLeaderItNames() throws IOException {
    startNodes(new FakeNode(1, 2, false), new FakeNode(2, 2, false), new FakeNode(3, 2, false));
    GroupProgressResponse progress = ops.groupProgress(GROUP).join();
    assertEquals(2, progress.getLeaderNodeId());
    assertEquals(1, progress.getProgressCount(), "the leader's answer, with progress");
    GroupProgressRequest sent = (GroupProgressRequest) nodes.get(1).requests.get(0);
    assertEquals(TestMaps.CLUSTER_ID, sent.getClusterId());
  }

  @Test
  void aNodeWithoutTheGroupOrWithoutALeaderIsPassedOver() throws IOException {
    FakeNode without = new FakeNode(1, 0, false);
    without.hosted = false;
    startNodes(without, new FakeNode(2, 0, false), new FakeNode(3, 3, false));
    GroupProgressResponse progress = ops.groupProgress(GROUP).join();
    assertEquals(3, progress.getLeaderNodeId());
    assertEquals(1, progress.getProgressCount());
    assertEquals(1, without.requests.size());
    assertEquals(1, nodes.get(1).requests.size(), "node 2 knows no leader: next candidate");
  }

  @Test
  void aNodeThatNeverAnswersCostsOneDeadlineAndTheNextVoterIsTried() throws IOException {
    startNodes(new FakeNode(1, 0, true), new FakeNode(2, 3, false), new FakeNode(3, 3, false));
    long started = System.nanoTime();
    ChangeReplicasResponse response =
        ops.changeReplicas(GROUP, ChangeReplicasRequest.newBuilder().setGroup(GROUP).build())
            .join();
    long tookMillis = (System.nanoTime() - started) / 1_000_000;
    assertEquals(3, response.getLeaderNodeId());
    assertTrue(tookMillis >= DEADLINE_MILLIS, "waited the deadline on node 1: " + tookMillis);
    assertTrue(tookMillis < 2 * DEADLINE_MILLIS, "one deadline, not more: " + tookMillis);
  }

  @Test
  void aGroupWithNoAnsweringNodeFailsWithTheLastError() throws IOException {
    startNodes(new FakeNode(1, 0, true), new FakeNode(2, 0, true), new FakeNode(3, 0, true));
    CompletionException thrown =
        assertThrows(CompletionException.class, () -> ops.groupProgress(GROUP).join());
    assertEquals(Status.Code.DEADLINE_EXCEEDED, Status.fromThrowable(thrown).getCode());
  }

  @Test
  void createReplicaCarriesTheMapAndDescribeNodeReadsIdClusterAndPeerAddress() throws IOException {
    ClusterMap map =
        startNodes(new FakeNode(1, 1, false), new FakeNode(2, 1, false), new FakeNode(4, 1, false));
    assertTrue(ops.createReplica(4, GROUP, map).join().getCreated());
    CreateReplicaRequest sent = (CreateReplicaRequest) nodes.get(2).requests.get(0);
    assertEquals(map, sent.getMap());
    assertEquals(TestMaps.CLUSTER_ID, sent.getClusterId());

    Rebalancer.NodeIdentity identity = ops.describeNode(nodes.get(2).address).join();
    assertEquals(
        new Rebalancer.NodeIdentity(4, TestMaps.CLUSTER_ID, nodes.get(2).address, "peer-of-4"),
        identity);
    nodes.get(2).inMap = false;
    assertEquals(
        "gossip-of-4",
        ops.describeNode(nodes.get(2).address).join().peerAddress(),
        "not in Members: the gossip view in Status");
    CompletionException bad =
        assertThrows(CompletionException.class, () -> ops.describeNode("no-port").join());
    assertEquals(Status.Code.INVALID_ARGUMENT, Status.fromThrowable(bad).getCode());
  }
}
