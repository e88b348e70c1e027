package io.ringkv.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.stub.AbstractStub;
import io.grpc.stub.MetadataUtils;
import io.ringkv.proto.internal.CreateReplicaRequest;
import io.ringkv.proto.internal.NodeScanGrpc;
import io.ringkv.proto.internal.NodeScanRequest;
import io.ringkv.proto.internal.ReplicaAdminGrpc;
import io.ringkv.proto.internal.StoredUser;
import io.ringkv.proto.v1.AuthEnableRequest;
import io.ringkv.proto.v1.AuthGrpc;
import io.ringkv.proto.v1.AuthStatusRequest;
import io.ringkv.proto.v1.ClusterGrpc;
import io.ringkv.proto.v1.Compare;
import io.ringkv.proto.v1.DeleteRequest;
import io.ringkv.proto.v1.GetRequest;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.proto.v1.PartitionsRequest;
import io.ringkv.proto.v1.Permission;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.proto.v1.RequestOp;
import io.ringkv.proto.v1.RoleGrantRequest;
import io.ringkv.proto.v1.RoleRequest;
import io.ringkv.proto.v1.ScanRequest;
import io.ringkv.proto.v1.TransferLeaderRequest;
import io.ringkv.proto.v1.TxnRequest;
import io.ringkv.proto.v1.UserAddRequest;
import io.ringkv.proto.v1.UserListRequest;
import io.ringkv.proto.v1.UserRoleRequest;
import io.ringkv.proto.v1.WatchGrpc;
import io.ringkv.proto.v1.WatchRequest;
import io.ringkv.server.auth.AuthLimits;
import io.ringkv.server.membership.ClusterMaps;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three real nodes on 127.0.13.1-3 (in-process, real sockets, RocksDB and Raft), four partitions.
 * Proves users and roles end to end, in order: with auth off every call is served without a token
 * as before; enabling needs an admin user; once on, every service refuses a call without a token or
 * with a bad one (UNAUTHENTICATED) while health still answers; a read-only user's put, a scan or
 * watch crossing into a prefix the user may not read, and cluster, replica and auth operations of a
 * non-admin are refused (PERMISSION_DENIED); forwarded calls carry the caller's credentials; a user
 * added through one node works on every node within a bounded wait; the stored record holds no
 * token; and a restart of every node keeps users, roles and the switch.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AuthClusterTest {
  private static final String[] HOSTS = {"127.0.13.1", "127.0.13.2", "127.0.13.3"};
  private static final long CALL_SECONDS = 10;

  /** A change made through one node is seen by every node within this (followers poll at 1 s). */
  private static final long VISIBLE_SECONDS_MAX = 5;

  private RealTestCluster cluster;
  private String adminToken;
  private String readerToken;
  private String writerToken;

  @BeforeAll
  void start(@TempDir Path dataDir) throws Exception {
    cluster = new RealTestCluster(dataDir, HOSTS, 4);
  }

  @AfterAll
  void stop() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
  }

  /** {@code stub} with a call deadline, sending {@code token} as a bearer token unless null. */
  static <S extends AbstractStub<S>> S as(S stub, String token) {
    S timed = stub.withDeadlineAfter(CALL_SECONDS, TimeUnit.SECONDS);
    if (token == null) {
      return timed;
    }
    Metadata headers = new Metadata();
    headers.put(
        Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
    return timed.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
  }

  private KVGrpc.KVBlockingStub kv(int node, String token) {
    return as(KVGrpc.newBlockingStub(cluster.channels[node]), token);
  }

  private AuthGrpc.AuthBlockingStub auth(int node, String token) {
    return as(AuthGrpc.newBlockingStub(cluster.channels[node]), token);
  }

  private static ByteString utf8(String text) {
    return ByteString.copyFromUtf8(text);
  }

  private static Status.Code code(Runnable call) {
    try {
      call.run();
      return Status.Code.OK;
    } catch (StatusRuntimeException e) {
      return e.getStatus().getCode();
    }
  }

  /** A call retried while the meta group has no leader yet (UNAVAILABLE), within a bound. */
  static <T> T retried(java.util.function.Supplier<T> call) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(RealTestCluster.WAIT_SECONDS);
    while (true) {
      try {
        return call.get();
      } catch (StatusRuntimeException e) {
        if (e.getStatus().getCode() != Status.Code.UNAVAILABLE || System.nanoTime() > deadline) {
          throw e;
        }
        TimeUnit.MILLISECONDS.sleep(50); // between tries of a bounded retry
      }
    }
  }

  /**
   * Adds the user root through {@code addVia} and grants it admin through {@code grantVia} (auth
   * still off); returns root's token.
   */
  static String addRootAdmin(
      java.util.function.Supplier<AuthGrpc.AuthBlockingStub> addVia,
      java.util.function.Supplier<AuthGrpc.AuthBlockingStub> grantVia)
      throws Exception {
    String token =
        retried(() -> addVia.get().userAdd(UserAddRequest.newBuilder().setName("root").build()))
            .getToken();
    retried(() ->
        grantVia
            .get()
            .userGrantRole(
                UserRoleRequest.newBuilder()
                    .setName("root")
                    .setRole(AuthLimits.ADMIN_ROLE)
                    .build()));
    return token;
  }

  private void awaitEveryNode(String what, java.util.function.Predicate<RingkvNode> seen)
      throws Exception {
    LocalTestCluster.awaitTrue(
        what,
        VISIBLE_SECONDS_MAX,
        () -> {
          for (RingkvNode node : cluster.nodes) {
            if (!seen.test(node)) {
              return false;
            }
          }
          return true;
        });
  }

  @Test
  @Order(1)
  void authOffServesEveryoneAsBefore() throws Exception {
    cluster.putWithRetry(0, PutRequest.newBuilder().setKey(utf8("app/k")).setValue(utf8("v0")));
    for (int node = 0; node < HOSTS.length; node++) {
      assertThat(
              kv(node, null).get(GetRequest.newBuilder().setKey(utf8("app/k")).build()).getValue())
          .isEqualTo(utf8("v0"));
      assertThat(kv(node, null).scan(ScanRequest.newBuilder().setLimit(10).build()).getKvsCount())
          .isEqualTo(1);
    }
    // Right after start the meta group's leadership may still move (a forwarded call that meets a
    // node no longer leading is UNAVAILABLE): retried like every other call of this class.
    assertThat(
            retried(() -> auth(1, null).status(AuthStatusRequest.getDefaultInstance()))
                .getEnabled())
        .isFalse();
    assertThat(
            retried(() -> {
              Status.Code code =
                  code(() -> auth(0, null).enable(AuthEnableRequest.getDefaultInstance()));
              if (code == Status.Code.UNAVAILABLE) {
                throw Status.UNAVAILABLE.asRuntimeException();
              }
              return code;
            }))
        .as("enable without an admin user")
        .isEqualTo(Status.Code.FAILED_PRECONDITION);
  }

  @Test
  @Order(2)
  void enableThenEveryServiceWantsAToken() throws Exception {
    adminToken = addRootAdmin(() -> auth(0, null), () -> auth(1, null));
    assertThat(
            retried(() -> auth(2, null).enable(AuthEnableRequest.getDefaultInstance()))
                .getEnabled())
        .isTrue();
    awaitEveryNode("auth on", node -> node.authView().enabled());

    for (String token : new String[] {null, "root.wrong", adminToken + "x"}) {
      for (int node = 0; node < HOSTS.length; node++) {
        int n = node;
        String what = "node " + (node + 1) + " token " + token;
        assertThat(
                code(() -> kv(n, token).get(GetRequest.newBuilder().setKey(utf8("app/k")).build())))
            .as(what)
            .isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(
                code(() -> kv(n, token).put(PutRequest.newBuilder().setKey(utf8("app/k")).build())))
            .as(what)
            .isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(
                code(() ->
                    kv(n, token).delete(DeleteRequest.newBuilder().setKey(utf8("app/k")).build())))
            .as(what)
            .isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(code(() -> kv(n, token).txn(TxnRequest.getDefaultInstance())))
            .as(what)
            .isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(code(() -> kv(n, token).scan(ScanRequest.newBuilder().setLimit(1).build())))
            .as(what)
            .isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(
                code(() ->
                    as(WatchGrpc.newBlockingStub(cluster.channels[n]), token)
                        .watch(WatchRequest.newBuilder().setPrefix(utf8("app/")).build())
                        .hasNext()))
            .as(what)
            .isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(
                code(() ->
                    as(ClusterGrpc.newBlockingStub(cluster.channels[n]), token)
                        .partitions(PartitionsRequest.getDefaultInstance())))
            .as(what)
            .isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(
                code(() ->
                    as(NodeScanGrpc.newBlockingStub(cluster.channels[n]), token)
                        .scanPartitions(
                            NodeScanRequest.newBuilder()
                                .setPage(ScanRequest.newBuilder().setLimit(1))
                                .addPartitions(0)
                                .build())))
            .as(what)
            .isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(
                code(() ->
                    as(ReplicaAdminGrpc.newBlockingStub(cluster.channels[n]), token)
                        .createReplica(
                            CreateReplicaRequest.newBuilder()
                                .setClusterId("service-test")
                                .setGroup(0)
                                .build())))
            .as(what)
            .isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(code(() -> auth(n, token).userList(UserListRequest.getDefaultInstance())))
            .as(what)
            .isEqualTo(Status.Code.UNAUTHENTICATED);
      }
    }
    // Probes stay open, and the admin's token works everywhere.
    assertThat(
            HealthGrpc.newBlockingStub(cluster.channels[0])
                .withDeadlineAfter(CALL_SECONDS, TimeUnit.SECONDS)
                .check(HealthCheckRequest.getDefaultInstance())
                .getStatus())
        .isEqualTo(io.grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING);
    for (int node = 0; node < HOSTS.length; node++) {
      assertThat(
              kv(node, adminToken)
                  .get(GetRequest.newBuilder().setKey(utf8("app/k")).build())
                  .getValue())
          .isEqualTo(utf8("v0"));
    }
  }

  @Test
  @Order(3)
  void rolesLimitWhatUsersTouch() throws Exception {
    auth(0, adminToken).roleAdd(RoleRequest.newBuilder().setName("app-reader").build());
    auth(1, adminToken)
        .roleGrant(
            RoleGrantRequest.newBuilder()
                .setName("app-reader")
                .setPermission(
                    Permission.newBuilder()
                        .setPrefix(utf8("app/"))
                        .setAccess(Permission.Access.READ))
                .build());
    auth(2, adminToken).roleAdd(RoleRequest.newBuilder().setName("app-writer").build());
    auth(0, adminToken)
        .roleGrant(
            RoleGrantRequest.newBuilder()
                .setName("app-writer")
                .setPermission(
                    Permission.newBuilder()
                        .setPrefix(utf8("app/"))
                        .setAccess(Permission.Access.READWRITE))
                .build());
    readerToken =
        auth(1, adminToken)
            .userAdd(UserAddRequest.newBuilder().setName("reader").build())
            .getToken();
    writerToken =
        auth(2, adminToken)
            .userAdd(UserAddRequest.newBuilder().setName("writer").build())
            .getToken();
    auth(0, adminToken)
        .userGrantRole(
            UserRoleRequest.newBuilder().setName("reader").setRole("app-reader").build());
    auth(1, adminToken)
        .userGrantRole(
            UserRoleRequest.newBuilder().setName("writer").setRole("app-writer").build());
    awaitEveryNode(
        "users known",
        node ->
            node.authView().authenticate(writerToken).map(p -> p.grants().size() == 1).orElse(false)
                && node.authView()
                    .authenticate(readerToken)
                    .map(p -> p.grants().size() == 1)
                    .orElse(false));

    for (int node = 0; node < HOSTS.length; node++) {
      int n = node;
      String what = "via node " + (node + 1);
      // A read-only user reads but does not write; through every node, so forwarded calls too.
      assertThat(
              kv(n, readerToken)
                  .get(GetRequest.newBuilder().setKey(utf8("app/k")).build())
                  .getFound())
          .as(what)
          .isTrue();
      assertThat(
              code(() ->
                  kv(n, readerToken)
                      .put(
                          PutRequest.newBuilder()
                              .setKey(utf8("app/k"))
                              .setValue(utf8("r"))
                              .build())))
          .as(what)
          .isEqualTo(Status.Code.PERMISSION_DENIED);
      assertThat(
              code(() ->
                  kv(n, readerToken)
                      .delete(DeleteRequest.newBuilder().setKey(utf8("app/k")).build())))
          .as(what)
          .isEqualTo(Status.Code.PERMISSION_DENIED);
      // The writer's put is forwarded to the partition's leader by two of the three nodes.
      assertThat(
              code(() ->
                  kv(n, writerToken)
                      .put(
                          PutRequest.newBuilder()
                              .setKey(utf8("app/k"))
                              .setValue(utf8("w" + n))
                              .build())))
          .as(what)
          .isEqualTo(Status.Code.OK);
      assertThat(
              code(() ->
                  kv(n, writerToken)
                      .put(
                          PutRequest.newBuilder()
                              .setKey(utf8("secret/k"))
                              .setValue(utf8("w"))
                              .build())))
          .as(what)
          .isEqualTo(Status.Code.PERMISSION_DENIED);
      // Txn: every compare and op is checked.
      TxnRequest crossing =
          TxnRequest.newBuilder()
              .addCompare(
                  Compare.newBuilder().setKey(utf8("app/k")).setTarget(Compare.Target.VERSION))
              .addSuccess(
                  RequestOp.newBuilder().setPut(PutRequest.newBuilder().setKey(utf8("app/k"))))
              .addFailure(
                  RequestOp.newBuilder().setGet(GetRequest.newBuilder().setKey(utf8("secret/k"))))
              .build();
      assertThat(code(() -> kv(n, writerToken).txn(crossing)))
          .as(what)
          .isEqualTo(Status.Code.PERMISSION_DENIED);
      // Scans: within the prefix yes; across into what follows it, or everything, no.
      assertThat(
              kv(n, readerToken)
                  .scan(ScanRequest.newBuilder().setPrefix(utf8("app/")).setLimit(10).build())
                  .getKvsCount())
          .as(what)
          .isEqualTo(1);
      assertThat(
              code(() ->
                  kv(n, readerToken)
                      .scan(
                          ScanRequest.newBuilder()
                              .setStartKey(utf8("app/"))
                              .setEndKey(utf8("b"))
                              .setLimit(10)
                              .build())))
          .as(what)
          .isEqualTo(Status.Code.PERMISSION_DENIED);
      assertThat(code(() -> kv(n, readerToken).scan(ScanRequest.newBuilder().setLimit(10).build())))
          .as(what)
          .isEqualTo(Status.Code.PERMISSION_DENIED);
      assertThat(
              code(() ->
                  as(NodeScanGrpc.newBlockingStub(cluster.channels[n]), readerToken)
                      .scanPartitions(
                          NodeScanRequest.newBuilder()
                              .setPage(
                                  ScanRequest.newBuilder().setPrefix(utf8("secret/")).setLimit(2))
                              .addPartitions(0)
                              .build())))
          .as(what)
          .isEqualTo(Status.Code.PERMISSION_DENIED);
      // Watch: the watched range must be readable.
      assertThat(
              as(WatchGrpc.newBlockingStub(cluster.channels[n]), readerToken)
                  .watch(WatchRequest.newBuilder().setPrefix(utf8("app/")).build())
                  .hasNext())
          .as(what)
          .isTrue();
      assertThat(
              code(() ->
                  as(WatchGrpc.newBlockingStub(cluster.channels[n]), readerToken)
                      .watch(WatchRequest.newBuilder().setAll(true).build())
                      .hasNext()))
          .as(what)
          .isEqualTo(Status.Code.PERMISSION_DENIED);
      assertThat(
              code(() ->
                  as(WatchGrpc.newBlockingStub(cluster.channels[n]), readerToken)
                      .watch(WatchRequest.newBuilder().setKey(utf8("secret/k")).build())
                      .hasNext()))
          .as(what)
          .isEqualTo(Status.Code.PERMISSION_DENIED);
      // Reading the cluster's shape is for every caller; changing it and auth is for admins.
      assertThat(
              as(ClusterGrpc.newBlockingStub(cluster.channels[n]), readerToken)
                  .partitions(PartitionsRequest.getDefaultInstance())
                  .getPartitionsCount())
          .as(what)
          .isEqualTo(4);
      assertThat(
              code(() ->
                  as(ClusterGrpc.newBlockingStub(cluster.channels[n]), readerToken)
                      .transferLeader(
                          TransferLeaderRequest.newBuilder()
                              .setPartition(0)
                              .setToNodeId(1)
                              .build())))
          .as(what)
          .isEqualTo(Status.Code.PERMISSION_DENIED);
      assertThat(
              code(() ->
                  as(ReplicaAdminGrpc.newBlockingStub(cluster.channels[n]), writerToken)
                      .createReplica(
                          CreateReplicaRequest.newBuilder()
                              .setClusterId("service-test")
                              .setGroup(0)
                              .build())))
          .as(what)
          .isEqualTo(Status.Code.PERMISSION_DENIED);
      assertThat(
              code(() ->
                  auth(n, writerToken)
                      .userAdd(UserAddRequest.newBuilder().setName("mallory").build())))
          .as(what)
          .isEqualTo(Status.Code.PERMISSION_DENIED);
      assertThat(auth(n, readerToken).status(AuthStatusRequest.getDefaultInstance()).getEnabled())
          .as(what)
          .isTrue();
    }
    // The admin may move leadership (forwarded to the partition's leader with the admin's token).
    long voter = cluster.nodes[0].mapView().votersOf(0).getFirst();
    assertThat(
            as(ClusterGrpc.newBlockingStub(cluster.channels[1]), adminToken)
                .transferLeader(
                    TransferLeaderRequest.newBuilder().setPartition(0).setToNodeId(voter).build())
                .getLeaderNodeId())
        .isEqualTo(voter);
  }

  @Test
  @Order(4)
  void userAddedOnOneNodeWorksOnEveryNode() throws Exception {
    long started = System.nanoTime();
    String token =
        auth(2, adminToken).userAdd(UserAddRequest.newBuilder().setName("late").build()).getToken();
    auth(2, adminToken)
        .userGrantRole(UserRoleRequest.newBuilder().setName("late").setRole("app-reader").build());
    for (int node = 0; node < HOSTS.length; node++) {
      int n = node;
      LocalTestCluster.awaitTrue(
          "node " + (node + 1) + " serves the new user",
          VISIBLE_SECONDS_MAX,
          () ->
              code(() -> kv(n, token).get(GetRequest.newBuilder().setKey(utf8("app/k")).build()))
                  == Status.Code.OK);
    }
    System.out.printf(
        "AuthClusterTest: a user added through node 3 was served by every node after %d ms%n",
        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
  }

  @Test
  @Order(5)
  void storedRecordHoldsNoToken() throws Exception {
    int meta = ClusterMaps.metaGroup(4);
    int checked = 0;
    for (RingkvNode node : cluster.nodes) {
      if (!node.driver().hosts(meta)) {
        continue;
      }
      byte[] stored = node.driver().store(meta).get(AuthLimits.RECORD_KEY).orElseThrow().value();
      String text = new String(stored, StandardCharsets.ISO_8859_1);
      for (String token : new String[] {adminToken, readerToken, writerToken}) {
        String secret = token.substring(token.indexOf('.') + 1);
        assertThat(text).doesNotContain(secret);
      }
      io.ringkv.proto.internal.AuthRecord record =
          io.ringkv.proto.internal.AuthRecord.parseFrom(stored);
      for (StoredUser user : record.getUsersList()) {
        assertThat(user.getTokenHash().size()).isEqualTo(32);
        assertThat(user.getTokenSalt().size()).isEqualTo(AuthLimits.SALT_BYTES);
      }
      checked++;
    }
    assertThat(checked).as("meta replicas read").isEqualTo(3);
  }

  @Test
  @Order(6)
  void restartKeepsUsersRolesAndTheSwitch() throws Exception {
    cluster.useToken(adminToken);
    cluster.restartAll();
    awaitEveryNode("auth on after restart", node -> node.authView().enabled());
    for (int node = 0; node < HOSTS.length; node++) {
      int n = node;
      assertThat(code(() -> kv(n, null).get(GetRequest.newBuilder().setKey(utf8("app/k")).build())))
          .isEqualTo(Status.Code.UNAUTHENTICATED);
      assertThat(
              code(() ->
                  kv(n, readerToken)
                      .put(
                          PutRequest.newBuilder()
                              .setKey(utf8("app/k"))
                              .setValue(utf8("r"))
                              .build())))
          .isEqualTo(Status.Code.PERMISSION_DENIED);
      // Right after the restart the meta group and the partitions may still be choosing leaders:
      // those answers are UNAVAILABLE (retried), never a wrong one.
      assertThat(
              retried(() ->
                      kv(n, readerToken).get(GetRequest.newBuilder().setKey(utf8("app/k")).build()))
                  .getFound())
          .isTrue();
      assertThat(
              retried(() -> auth(n, adminToken).userList(UserListRequest.getDefaultInstance()))
                  .getUsersCount())
          .isEqualTo(4);
    }
  }
}
