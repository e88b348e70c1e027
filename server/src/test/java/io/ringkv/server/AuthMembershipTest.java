package io.ringkv.server;

import static io.ringkv.server.AuthClusterTest.as;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.ringkv.proto.internal.ClusterMap;
import io.ringkv.proto.internal.ClusterMember;
import io.ringkv.proto.v1.AddNodeRequest;
import io.ringkv.proto.v1.AuthEnableRequest;
import io.ringkv.proto.v1.AuthGrpc;
import io.ringkv.proto.v1.ClusterGrpc;
import io.ringkv.proto.v1.GetRequest;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.proto.v1.PartitionsRequest;
import io.ringkv.proto.v1.Permission;
import io.ringkv.proto.v1.PlanRequest;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.proto.v1.RemoveNodeRequest;
import io.ringkv.proto.v1.RoleGrantRequest;
import io.ringkv.proto.v1.RoleRequest;
import io.ringkv.proto.v1.TransferLeaderRequest;
import io.ringkv.proto.v1.UserAddRequest;
import io.ringkv.proto.v1.UserRoleRequest;
import io.ringkv.server.config.ConfigLoader;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves that membership changes work with auth on, on four real in-process nodes (127.0.17.1-4,
 * real sockets, RocksDB and Raft, the meta leader's own coordinator driving the moves): with auth
 * enabled on three nodes, node 4 starts in join mode and learns the auth record before it is a
 * member (a call to it without a token is UNAUTHENTICATED); a join without a token, or with a
 * non-admin token, is refused and leaves the map as it was; a join with the admin token adds node 4
 * and replicas move to it; through node 4 a read-write user then puts and gets keys of every
 * partition (so node 4 forwards and serves with the users' grants), a reader is refused writes, and
 * a call without a token is refused, also right after node 4 restarts (before its first poll of the
 * auth record); commands sent through node 4, which holds no meta replica, reach the meta leader
 * wherever it is; finally node 2 is decommissioned with the admin token, the change completes, and
 * every key written is still readable.
 */
@org.junit.jupiter.api.Timeout(value = 300, unit = java.util.concurrent.TimeUnit.SECONDS)
class AuthMembershipTest {
  private static final String[] HOSTS = {"127.0.17.1", "127.0.17.2", "127.0.17.3"};
  private static final String JOINER_HOST = "127.0.17.4";
  private static final String CLUSTER = "auth-membership";
  private static final int PARTITIONS = 4;
  private static final long CALL_SECONDS = 10;

  /** A join or decommission of a few replicas settles within this on a loaded 2-core machine. */
  private static final long SETTLE_SECONDS = 120;

  @TempDir Path dataDir;
  private final RingkvNode[] nodes = new RingkvNode[5];
  private final ManagedChannel[] channels = new ManagedChannel[5];
  private final List<AutoCloseable> toClose = new ArrayList<>();
  private final Map<ByteString, ByteString> written = new LinkedHashMap<>();

  @AfterEach
  void close() throws Exception {
    LocalTestCluster.closeAll(toClose, nodes);
  }

  @Test
  void joinAndDecommissionWithAuthOn() throws Exception {
    // Leader balancing off: only the test moves the meta group's leadership.
    String[] extra = {
      "--partitions",
      Integer.toString(PARTITIONS),
      "--raft-tick-millis",
      "20",
      "--leader-balance-interval-millis",
      "0"
    };
    String[][] flags = LocalTestCluster.flags(dataDir, HOSTS, CLUSTER, extra);
    for (int node = 1; node <= 3; node++) {
      nodes[node] = RingkvNode.start(ConfigLoader.load(flags[node - 1]));
      channels[node] = LocalTestCluster.channel(nodes[node], toClose);
    }
    String adminToken = AuthClusterTest.addRootAdmin(() -> auth(1, null), () -> auth(2, null));
    String writerToken = userWithRole(adminToken, "writer", Permission.Access.READWRITE);
    String readerToken = userWithRole(adminToken, "reader", Permission.Access.READ);
    AuthClusterTest.retried(() -> auth(1, null).enable(AuthEnableRequest.getDefaultInstance()));
    for (int node = 1; node <= 3; node++) {
      RingkvNode running = nodes[node];
      LocalTestCluster.awaitTrue(
          "auth on at node " + node, SETTLE_SECONDS, () -> running.authView().enabled());
    }
    for (int partition = 0; partition < PARTITIONS; partition++) {
      put(1, writerToken, "before-" + partition, partition);
    }

    String[] joinerFlags =
        LocalTestCluster.joinerFlags(dataDir, 4, CLUSTER, JOINER_HOST, clientAddress(1), extra);
    nodes[4] = RingkvNode.start(ConfigLoader.load(joinerFlags));
    channels[4] = LocalTestCluster.channel(nodes[4], toClose);
    LocalTestCluster.awaitTrue(
        "node 4 learns the auth record while joining",
        SETTLE_SECONDS,
        () -> nodes[4].authView().enabled());
    assertThat(code(() -> kv(4, null).get(get("before-0"))))
        .as("a call without a token to the joining node")
        .isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(nodes[4].authView().nodeToken())
        .as("a node without a meta replica does not hold the nodes' token")
        .isEmpty();

    ClusterMap before = nodes[1].mapView().current();
    AddNodeRequest join = AddNodeRequest.newBuilder().setClientAddress(clientAddress(4)).build();
    for (int via = 1; via <= 4; via++) {
      int node = via;
      assertThat(code(() -> cluster(node, null).addNode(join)))
          .as("join without a token via node %d", node)
          .isEqualTo(Status.Code.UNAUTHENTICATED);
      assertThat(code(() -> cluster(node, writerToken).addNode(join)))
          .as("join with a non-admin token via node %d", node)
          .isEqualTo(Status.Code.PERMISSION_DENIED);
    }
    for (int node = 1; node <= 3; node++) {
      assertThat(nodes[node].mapView().current()).as("map at node %d", node).isEqualTo(before);
    }

    long joinedEpoch =
        AuthClusterTest.retried(() -> cluster(2, adminToken).addNode(join)).getMapEpoch();
    ClusterMap joined = awaitSettled("join of node 4", joinedEpoch, adminToken);
    assertThat(activeIds(joined)).containsExactlyInAnyOrder(1L, 2L, 3L, 4L);
    assertThat(nodes[4].driver().partitions()).as("replicas moved to node 4").isNotEmpty();
    System.out.printf(
        "after the join node 4 hosts partitions %s (map epoch %d)%n",
        nodes[4].driver().partitions(), joined.getEpoch());

    for (int partition = 0; partition < PARTITIONS; partition++) {
      put(4, writerToken, "via4-" + partition, partition);
    }
    for (Map.Entry<ByteString, ByteString> pair : written.entrySet()) {
      assertThat(kv(4, writerToken).get(get(pair.getKey())).getValue())
          .as("%s via node 4", pair.getKey().toStringUtf8())
          .isEqualTo(pair.getValue());
    }
    assertThat(
            code(() ->
                kv(4, readerToken)
                    .put(
                        PutRequest.newBuilder()
                            .setKey(ByteString.copyFromUtf8("reader-write"))
                            .build())))
        .as("a reader's write via node 4")
        .isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(code(() -> kv(4, null).get(get("before-0"))))
        .as("a call without a token to the joined node")
        .isEqualTo(Status.Code.UNAUTHENTICATED);

    // A restarted node without a meta replica has not read the auth record yet when it starts; it
    // must not begin by serving as if auth were off.
    nodes[4].close();
    nodes[4] = RingkvNode.start(ConfigLoader.load(joinerFlags));
    channels[4] = LocalTestCluster.channel(nodes[4], toClose);
    assertThat(code(() -> cluster(4, null).partitions(PartitionsRequest.getDefaultInstance())))
        .as("a call without a token to node 4 right after its restart")
        .isEqualTo(Status.Code.UNAUTHENTICATED);
    ByteString someKey = written.keySet().iterator().next();
    assertThat(AuthClusterTest.retried(() -> kv(4, readerToken).get(get(someKey))).getValue())
        .as("a reader's get via node 4 after its restart")
        .isEqualTo(written.get(someKey));

    // Node 4 holds no meta replica, so it guesses the first meta voter as the meta leader; lead
    // the meta group from the last voter instead, so the commands sent through node 4 below have
    // to find the leader.
    int meta = PARTITIONS;
    assertThat(nodes[4].driver().hosts(meta)).as("node 4 holds a meta replica").isFalse();
    List<Long> metaVoters = nodes[1].mapView().votersOf(meta);
    long metaLeader = metaVoters.get(metaVoters.size() - 1);
    for (int tries = 1; !metaLeads(metaLeader); tries++) {
      assertThat(tries).as("tries to move the meta group's leadership").isLessThanOrEqualTo(5);
      AuthClusterTest.retried(() ->
          cluster((int) metaLeader, adminToken)
              .transferLeader(
                  TransferLeaderRequest.newBuilder()
                      .setPartition(meta)
                      .setToNodeId(metaLeader)
                      .build()));
      try {
        LocalTestCluster.awaitTrue(
            "node " + metaLeader + " leads the meta group",
            CALL_SECONDS,
            () -> metaLeads(metaLeader));
      } catch (AssertionError notYet) {
        // the transfer timed out (the target was catching up): ask again
      }
    }
    System.out.printf("meta voters %s, leader node %d%n", metaVoters, metaLeader);
    assertThat(
            auth(4, adminToken)
                .roleAdd(RoleRequest.newBuilder().setName("added-via-4").build())
                .getRevision())
        .as("an auth command through node 4")
        .isPositive();

    long leftEpoch =
        cluster(4, adminToken)
            .removeNode(RemoveNodeRequest.newBuilder().setNodeId(2).build())
            .getMapEpoch();
    ClusterMap left = awaitSettled("decommission of node 2", leftEpoch, adminToken, 2);
    assertThat(activeIds(left)).containsExactlyInAnyOrder(1L, 3L, 4L);
    for (Map.Entry<ByteString, ByteString> pair : written.entrySet()) {
      for (int node : new int[] {1, 3, 4}) {
        assertThat(kv(node, readerToken).get(get(pair.getKey())).getValue())
            .as("%s via node %d after the decommission", pair.getKey().toStringUtf8(), node)
            .isEqualTo(pair.getValue());
      }
    }
  }

  private boolean metaLeads(long node) {
    var status = nodes[(int) node].driver().status(PARTITIONS);
    return status != null && status.role() == io.ringkv.raft.Role.LEADER;
  }

  /** Adds a user holding a role of its own name with {@code access} on every key. */
  private String userWithRole(String adminToken, String name, Permission.Access access)
      throws Exception {
    AuthClusterTest.retried(
        () -> auth(1, adminToken).roleAdd(RoleRequest.newBuilder().setName(name).build()));
    AuthClusterTest.retried(() ->
        auth(1, adminToken)
            .roleGrant(
                RoleGrantRequest.newBuilder()
                    .setName(name)
                    .setPermission(
                        Permission.newBuilder().setPrefix(ByteString.EMPTY).setAccess(access))
                    .build()));
    String token =
        AuthClusterTest.retried(() ->
                auth(1, adminToken).userAdd(UserAddRequest.newBuilder().setName(name).build()))
            .getToken();
    AuthClusterTest.retried(() ->
        auth(1, adminToken)
            .userGrantRole(UserRoleRequest.newBuilder().setName(name).setRole(name).build()));
    return token;
  }

  /**
   * Waits until every running member holds a map of at least {@code epoch} with no move left, every
   * data group on replication-factor active voters, {@code gone} removed, and the coordinator plans
   * nothing more for it.
   */
  private ClusterMap awaitSettled(String what, long epoch, String adminToken, long... gone)
      throws Exception {
    ClusterMap[] settled = new ClusterMap[1];
    LocalTestCluster.awaitTrue(
        what + " settles",
        SETTLE_SECONDS,
        () -> {
          ClusterMap map = nodes[1].mapView().current();
          if (map.getEpoch() < epoch || !settled(map, gone)) {
            return false;
          }
          try {
            var plan = cluster(1, adminToken).plan(PlanRequest.getDefaultInstance());
            if (plan.getMapEpoch() != map.getEpoch() || plan.getMovesCount() > 0) {
              return false;
            }
          } catch (StatusRuntimeException e) {
            return false; // the meta leader moved: ask again
          }
          settled[0] = map;
          return true;
        });
    return settled[0];
  }

  private static boolean settled(ClusterMap map, long... gone) {
    if (map.getMovesCount() > 0) {
      return false;
    }
    List<Long> active = activeIds(map);
    for (int group = 0; group < map.getGroupsCount(); group++) {
      List<Long> voters = map.getGroups(group).getVotersList();
      boolean meta = group == map.getPartitionCount();
      if ((!meta && voters.size() != map.getReplicationFactor()) || !active.containsAll(voters)) {
        return false;
      }
    }
    for (long node : gone) {
      for (ClusterMember member : map.getMembersList()) {
        if (member.getNodeId() == node && member.getState() != ClusterMember.State.REMOVED) {
          return false;
        }
      }
    }
    return true;
  }

  private static List<Long> activeIds(ClusterMap map) {
    return map.getMembersList().stream()
        .filter(m -> m.getState() == ClusterMember.State.ACTIVE)
        .map(ClusterMember::getNodeId)
        .toList();
  }

  private void put(int node, String token, String tag, int partition) throws Exception {
    ByteString key = keyOf(partition, tag);
    ByteString value = ByteString.copyFromUtf8("value of " + tag);
    AuthClusterTest.retried(
        () -> kv(node, token).put(PutRequest.newBuilder().setKey(key).setValue(value).build()));
    written.put(key, value);
  }

  private ByteString keyOf(int partition, String tag) {
    for (int i = 0; ; i++) {
      ByteString key = ByteString.copyFromUtf8(tag + "-" + i);
      if (nodes[1].config().partitionLayout().partitionOfKey(key.toByteArray()) == partition) {
        return key;
      }
    }
  }

  private static GetRequest get(String key) {
    return get(ByteString.copyFromUtf8(key));
  }

  private static GetRequest get(ByteString key) {
    return GetRequest.newBuilder().setKey(key).build();
  }

  private String clientAddress(int node) {
    InetSocketAddress address = nodes[node].clientAddress();
    return address.getHostString() + ":" + address.getPort();
  }

  private static Status.Code code(Supplier<?> call) {
    try {
      call.get();
      return Status.Code.OK;
    } catch (StatusRuntimeException e) {
      return e.getStatus().getCode();
    }
  }

  private KVGrpc.KVBlockingStub kv(int node, String token) {
    return as(KVGrpc.newBlockingStub(channels[node]), token);
  }

  private ClusterGrpc.ClusterBlockingStub cluster(int node, String token) {
    return as(ClusterGrpc.newBlockingStub(channels[node]), token)
        .withDeadlineAfter(CALL_SECONDS, TimeUnit.SECONDS);
  }

  private AuthGrpc.AuthBlockingStub auth(int node, String token) {
    return as(AuthGrpc.newBlockingStub(channels[node]), token);
  }
}
