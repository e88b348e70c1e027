package io.ringkv.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.ringkv.proto.v1.AuthEnableRequest;
import io.ringkv.proto.v1.AuthGrpc;
import io.ringkv.proto.v1.GetRequest;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.proto.v1.Permission;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.proto.v1.RoleGrantRequest;
import io.ringkv.proto.v1.RoleRequest;
import io.ringkv.proto.v1.UserAddRequest;
import io.ringkv.proto.v1.UserRoleRequest;
import io.ringkv.server.auth.AuthLimits;
import io.ringkv.server.config.ConfigLoader;
import io.ringkv.server.tls.TestCerts;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * One node with TLS and auth on (127.0.12.31): a client known only by its certificate, without a
 * token, is the user its certificate names. Proves: the admin named by its certificate (CN=root)
 * writes; a reader named by its certificate (CN=alice) reads and is refused writes
 * (PERMISSION_DENIED); a certificate naming no user (CN=mallory) is UNAUTHENTICATED.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class TlsCertificateAuthTest {
  static final String HOST = "127.0.12.31";

  @TempDir static Path dir;
  static Path certs;
  static RingkvNode node;
  static final List<AutoCloseable> toClose = new ArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    certs = TestCerts.makeWithUsers(dir.resolve("certs"), "root alice mallory", HOST);
    String[][] flags =
        LocalTestCluster.flags(
            dir.resolve("data"),
            new String[] {HOST},
            "tls-auth-test",
            "--partitions",
            "4",
            "--client-tls-client-auth",
            "optional");
    List<String> own = new ArrayList<>(List.of(flags[0]));
    own.addAll(TestCerts.flags(certs, "node-1"));
    node = RingkvNode.start(ConfigLoader.load(own.toArray(new String[0])));
  }

  @AfterAll
  static void stop() throws Exception {
    LocalTestCluster.closeAll(toClose, new RingkvNode[] {node});
  }

  private static ManagedChannel as(String user) {
    ManagedChannel channel =
        TlsClusterTest.channel(node, certs.resolve("ca.crt"), certs, "client-" + user);
    toClose.add(() -> {
      channel.shutdownNow();
      channel.awaitTermination(5, TimeUnit.SECONDS);
    });
    return channel;
  }

  private static PutRequest put(String key, String value) {
    return PutRequest.newBuilder()
        .setKey(ByteString.copyFromUtf8(key))
        .setValue(ByteString.copyFromUtf8(value))
        .build();
  }

  @Test
  void aCertificateNamesItsUserWhenNoTokenIsSent() throws Exception {
    AuthGrpc.AuthBlockingStub setup = AuthGrpc.newBlockingStub(as("root"));
    AuthClusterTest.retried(
        () -> setup.userAdd(UserAddRequest.newBuilder().setName("root").build()));
    AuthClusterTest.retried(() ->
        setup.userGrantRole(
            UserRoleRequest.newBuilder().setName("root").setRole(AuthLimits.ADMIN_ROLE).build()));
    AuthClusterTest.retried(
        () -> setup.userAdd(UserAddRequest.newBuilder().setName("alice").build()));
    AuthClusterTest.retried(
        () -> setup.roleAdd(RoleRequest.newBuilder().setName("reader").build()));
    AuthClusterTest.retried(() ->
        setup.roleGrant(
            RoleGrantRequest.newBuilder()
                .setName("reader")
                .setPermission(Permission.newBuilder().setAccess(Permission.Access.READ))
                .build()));
    AuthClusterTest.retried(() ->
        setup.userGrantRole(
            UserRoleRequest.newBuilder().setName("alice").setRole("reader").build()));
    AuthClusterTest.retried(() -> setup.enable(AuthEnableRequest.getDefaultInstance()));
    LocalTestCluster.awaitTrue("auth on", 30, () -> node.authView().enabled());

    KVGrpc.KVBlockingStub root = KVGrpc.newBlockingStub(as("root"));
    AuthClusterTest.retried(() -> root.put(put("cert/k", "v1")));

    KVGrpc.KVBlockingStub alice = KVGrpc.newBlockingStub(as("alice"));
    GetRequest get = GetRequest.newBuilder().setKey(ByteString.copyFromUtf8("cert/k")).build();
    assertThat(AuthClusterTest.retried(() -> alice.get(get)).getValue())
        .isEqualTo(ByteString.copyFromUtf8("v1"));
    assertThatThrownBy(() -> alice.put(put("cert/k", "v2")))
        .isInstanceOf(StatusRuntimeException.class)
        .extracting(e -> ((StatusRuntimeException) e).getStatus().getCode())
        .isEqualTo(Status.Code.PERMISSION_DENIED);

    KVGrpc.KVBlockingStub mallory = KVGrpc.newBlockingStub(as("mallory"));
    assertThatThrownBy(() -> mallory.get(get))
        .isInstanceOf(StatusRuntimeException.class)
        .extracting(e -> ((StatusRuntimeException) e).getStatus().getCode())
        .isEqualTo(Status.Code.UNAUTHENTICATED);
  }
}
