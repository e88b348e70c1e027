package io.ringkv.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.ringkv.proto.v1.AuthEnableRequest;
import io.ringkv.proto.v1.AuthGrpc;
import io.ringkv.proto.v1.GetRequest;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.proto.v1.Permission;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.proto.v1.RoleGrantRequest;
import io.ringkv.proto.v1.RoleRequest;
import io.ringkv.proto.v1.ScanRequest;
import io.ringkv.proto.v1.ScanResponse;
import io.ringkv.proto.v1.UserAddRequest;
import io.ringkv.proto.v1.UserRoleRequest;
import io.ringkv.server.auth.AuthLimits;
import io.ringkv.server.auth.CallerCredentials;
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
 * Three nodes with TLS and auth on (127.0.12.31-33): a client known only by its certificate,
 * without a token, is the user its certificate names, also on calls a node forwards for it. Proves:
 * the admin named by its certificate (CN=root) writes every key through every node (so through the
 * leader and through nodes that forward to it); a reader named by its certificate (CN=alice) reads
 * them all with one scan across nodes and is refused writes (PERMISSION_DENIED); a certificate
 * naming no user (CN=mallory) is UNAUTHENTICATED; a user's certificate that claims to forward for
 * root (the header only nodes may send) is UNAUTHENTICATED.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class TlsCertificateAuthTest {
  static final String[] HOSTS = {"127.0.12.31", "127.0.12.32", "127.0.12.33"};
  static final int KEYS = 12;

  @TempDir static Path dir;
  static Path certs;
  static final RingkvNode[] nodes = new RingkvNode[HOSTS.length];
  static final List<AutoCloseable> toClose = new ArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    certs = TestCerts.makeWithUsers(dir.resolve("certs"), "root alice mallory", HOSTS);
    String[][] flags =
        LocalTestCluster.flags(
            dir.resolve("data"),
            HOSTS,
            "tls-auth-test",
            "--partitions",
            "4",
            "--client-tls-client-auth",
            "optional");
    List<java.util.concurrent.CompletableFuture<RingkvNode>> starting = new ArrayList<>();
    for (int i = 0; i < HOSTS.length; i++) {
      List<String> own = new ArrayList<>(List.of(flags[i]));
      own.addAll(TestCerts.flags(certs, "node-" + (i + 1)));
      String[] args = own.toArray(new String[0]);
      starting.add(
          java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
              return RingkvNode.start(ConfigLoader.load(args));
            } catch (Exception e) {
              throw new java.util.concurrent.CompletionException(e);
            }
          }));
    }
    for (int i = 0; i < HOSTS.length; i++) {
      nodes[i] = starting.get(i).join();
    }
  }

  @AfterAll
  static void stop() throws Exception {
    LocalTestCluster.closeAll(toClose, nodes);
  }

  private static ManagedChannel as(String user, RingkvNode node) {
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
  void aCertificateNamesItsUserWhenNoTokenIsSentAlsoOnForwardedCalls() throws Exception {
    AuthGrpc.AuthBlockingStub setup = AuthGrpc.newBlockingStub(as("root", nodes[0]));
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
    for (RingkvNode node : nodes) {
      LocalTestCluster.awaitTrue("auth on", 30, () -> node.authView().enabled());
    }

    // Every key through every node: for each key two of the three nodes are not its leader and
    // forward the put, with root known only by its certificate.
    for (int n = 0; n < nodes.length; n++) {
      KVGrpc.KVBlockingStub root = KVGrpc.newBlockingStub(as("root", nodes[n]));
      String value = "v" + (n + 1);
      for (int k = 0; k < KEYS; k++) {
        String key = "cert/k" + k;
        AuthClusterTest.retried(() -> root.put(put(key, value)));
      }
    }

    KVGrpc.KVBlockingStub alice = KVGrpc.newBlockingStub(as("alice", nodes[1]));
    ScanRequest scan = ScanRequest.newBuilder().setPrefix(ByteString.copyFromUtf8("cert/")).build();
    ScanResponse scanned = AuthClusterTest.retried(() -> alice.scan(scan));
    assertThat(scanned.getKvsList())
        .hasSize(KEYS)
        .allSatisfy(kv -> assertThat(kv.getValue().toStringUtf8()).isEqualTo("v3"));
    GetRequest get = GetRequest.newBuilder().setKey(ByteString.copyFromUtf8("cert/k0")).build();
    assertThat(AuthClusterTest.retried(() -> alice.get(get)).getValue().toStringUtf8())
        .isEqualTo("v3");
    assertThatThrownBy(() -> alice.put(put("cert/k0", "v-alice")))
        .isInstanceOf(StatusRuntimeException.class)
        .extracting(e -> ((StatusRuntimeException) e).getStatus().getCode())
        .isEqualTo(Status.Code.PERMISSION_DENIED);

    KVGrpc.KVBlockingStub mallory = KVGrpc.newBlockingStub(as("mallory", nodes[0]));
    assertThatThrownBy(() -> mallory.get(get))
        .isInstanceOf(StatusRuntimeException.class)
        .extracting(e -> ((StatusRuntimeException) e).getStatus().getCode())
        .isEqualTo(Status.Code.UNAUTHENTICATED);

    Metadata claim = new Metadata();
    claim.put(CallerCredentials.ON_BEHALF_OF, "root");
    KVGrpc.KVBlockingStub forger =
        alice.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(claim));
    assertThatThrownBy(() -> forger.put(put("cert/k0", "v-forged")))
        .isInstanceOf(StatusRuntimeException.class)
        .extracting(e -> ((StatusRuntimeException) e).getStatus().getCode())
        .isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(AuthClusterTest.retried(() -> alice.get(get)).getValue().toStringUtf8())
        .isEqualTo("v3");
  }
}
