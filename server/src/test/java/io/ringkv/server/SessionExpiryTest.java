package io.ringkv.server;

import static io.ringkv.server.SingleNodeKvTest.assertCode;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.ringkv.proto.v1.ErrorDetail;
import io.ringkv.proto.v1.GetRequest;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.proto.v1.PutResponse;
import io.ringkv.proto.v1.WriteSession;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves session expiry on three real in-process nodes (127.0.0.203-205) with a one second
 * session-expiry-millis: a write retried after its session expired is refused with
 * FAILED_PRECONDITION / SESSION_EXPIRED through every node and never applied a second time, a fresh
 * write on that session is refused alike, and after every node restarts the record still answers so
 * (the expiry is decided on the time in the commands, the same on every replica).
 */
class SessionExpiryTest {
  private static final String[] HOSTS = {"127.0.0.203", "127.0.0.204", "127.0.0.205"};
  private static final long EXPIRY_MILLIS = 1_000;

  @TempDir Path dataDir;
  private RealTestCluster cluster;

  @AfterEach
  void close() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void aRetryAfterExpiryIsRefusedAndNeverAppliedTwiceAlsoAfterRestarts() throws Exception {
    cluster =
        new RealTestCluster(
            dataDir, HOSTS, 4, "--session-expiry-millis", Long.toString(EXPIRY_MILLIS));
    ByteString key = cluster.keyOf(2, "session");
    WriteSession session = WriteSession.newBuilder().setSessionId(77).setSequence(1).build();
    PutRequest.Builder write =
        PutRequest.newBuilder()
            .setKey(key)
            .setValue(ByteString.copyFromUtf8("once"))
            .setSession(session);
    PutResponse first = cluster.putWithRetry(0, write);
    long appliedAtMillis = System.currentTimeMillis();
    // A retry within the expiry is answered from the session, not applied again.
    assertThat(cluster.kv[1].put(write.build()).getRevision()).isEqualTo(first.getRevision());
    LocalTestCluster.awaitTrue(
        "the session's expiry passes on the nodes' clock",
        RealTestCluster.WAIT_SECONDS,
        () -> System.currentTimeMillis() > appliedAtMillis + 2 * EXPIRY_MILLIS);
    for (int node = 0; node < HOSTS.length; node++) {
      assertRefusedAsExpired(node, write);
    }
    assertRefusedAsExpired(
        2, write.clone().setSession(session.toBuilder().setSequence(2)).setValue(key));
    assertVersionOne(key);

    cluster.restartAll();
    assertRefusedAsExpired(0, write);
    assertVersionOne(key);
    cluster.assertEveryPartitionServes("after-expiry");
  }

  private void assertRefusedAsExpired(int node, PutRequest.Builder write) {
    assertThatThrownBy(
            () -> cluster.kv[node].withDeadlineAfter(10, TimeUnit.SECONDS).put(write.build()))
        .satisfies(e ->
            assertCode(e, Status.Code.FAILED_PRECONDITION, ErrorDetail.Reason.SESSION_EXPIRED));
  }

  private void assertVersionOne(ByteString key) {
    var got = cluster.kv[0].get(GetRequest.newBuilder().setKey(key).build());
    assertThat(got.getValue().toStringUtf8()).isEqualTo("once");
    assertThat(got.getVersion()).as("applied exactly once").isEqualTo(1);
  }
}
