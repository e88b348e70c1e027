package io.ringkv.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.ringkv.proto.v1.AuthEnableRequest;
import io.ringkv.proto.v1.AuthGrpc;
import io.ringkv.proto.v1.GetRequest;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.proto.v1.UserAddRequest;
import io.ringkv.proto.v1.UserRoleRequest;
import io.ringkv.server.auth.AuthLimits;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One real node on 127.0.13.4 with auth-user-requests-per-second-max 5 and a burst of 5. Proves the
 * per-user rate: with auth off nothing is limited; with auth on a user's rapid requests are refused
 * RESOURCE_EXHAUSTED with a retry-after-millis trailer of at most one token's time (200 ms), the
 * refusal is counted, another user is not affected, and the user is served again once the hinted
 * time has passed.
 */
class AuthRateLimitTest {
  private static final String HOST = "127.0.13.4";
  private static final int RAPID_CALLS_MAX = 50;
  private static final long WAIT_SECONDS = 30;

  @TempDir Path dataDir;

  private static <S extends io.grpc.stub.AbstractStub<S>> S as(S stub, String token) {
    return AuthClusterTest.as(stub, token);
  }

  private static <T> T retried(Supplier<T> call) throws Exception {
    return AuthClusterTest.retried(call);
  }

  @Test
  void rateLimitedWithRetryHintThenRecovers() throws Exception {
    List<AutoCloseable> toClose = new ArrayList<>();
    RingkvNode node =
        RingkvNode.start(
            LocalTestCluster.singleNodeConfig(
                dataDir,
                HOST,
                "--partitions",
                "1",
                "--raft-tick-millis",
                "20",
                "--auth-user-requests-per-second-max",
                "5",
                "--auth-user-request-burst-max",
                "5"));
    try {
      ManagedChannel channel = LocalTestCluster.channel(node, toClose);
      GetRequest get = GetRequest.newBuilder().setKey(ByteString.copyFromUtf8("k")).build();
      retried(() -> as(KVGrpc.newBlockingStub(channel), null).get(get));
      for (int i = 0; i < RAPID_CALLS_MAX; i++) {
        as(KVGrpc.newBlockingStub(channel), null).get(get); // auth off: no limit
      }
      String root =
          retried(() ->
                  as(AuthGrpc.newBlockingStub(channel), null)
                      .userAdd(UserAddRequest.newBuilder().setName("root").build()))
              .getToken();
      String other =
          as(AuthGrpc.newBlockingStub(channel), null)
              .userAdd(UserAddRequest.newBuilder().setName("other").build())
              .getToken();
      for (String user : new String[] {"root", "other"}) {
        as(AuthGrpc.newBlockingStub(channel), null)
            .userGrantRole(
                UserRoleRequest.newBuilder().setName(user).setRole(AuthLimits.ADMIN_ROLE).build());
      }
      as(AuthGrpc.newBlockingStub(channel), null).enable(AuthEnableRequest.getDefaultInstance());
      assertThat(node.authView().enabled()).isTrue();

      StatusRuntimeException refused = null;
      int served = 0;
      long refusedAt = 0;
      for (int i = 0; i < RAPID_CALLS_MAX && refused == null; i++) {
        try {
          as(KVGrpc.newBlockingStub(channel), root).get(get);
          served++;
        } catch (StatusRuntimeException e) {
          refused = e;
          refusedAt = System.nanoTime();
        }
      }
      assertThat(refused).as("refused within %d rapid calls", RAPID_CALLS_MAX).isNotNull();
      assertThat(refused.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
      assertThat(served).as("the burst is served").isGreaterThanOrEqualTo(5);
      String hint = refused.getTrailers().get(AuthGate.RETRY_AFTER_MILLIS);
      assertThat(hint).isNotNull();
      long hintMillis = Long.parseLong(hint);
      assertThat(hintMillis).isBetween(1L, 200L);
      assertThat(node.registry().scrape())
          .contains("ringkv_auth_refused_total{reason=\"rate_limited\"}");
      // Another user's bucket is its own.
      as(KVGrpc.newBlockingStub(channel), other).get(get);

      LocalTestCluster.awaitTrue(
          "root is served again",
          WAIT_SECONDS,
          () -> {
            try {
              as(KVGrpc.newBlockingStub(channel), root).get(get);
              return true;
            } catch (StatusRuntimeException e) {
              return false;
            }
          });
      System.out.printf(
          "AuthRateLimitTest: %d served, then refused with retry-after-millis %d; served again"
              + " %d ms after the refusal%n",
          served, hintMillis, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - refusedAt));
    } finally {
      LocalTestCluster.closeAll(toClose, new RingkvNode[] {node});
    }
  }
}
