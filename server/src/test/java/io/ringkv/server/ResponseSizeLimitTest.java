package io.ringkv.server;

import static io.ringkv.server.SingleNodeKvTest.assertLimit;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.ringkv.proto.v1.GetRequest;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.proto.v1.RequestOp;
import io.ringkv.proto.v1.ScanRequest;
import io.ringkv.proto.v1.ScanResponse;
import io.ringkv.proto.v1.TxnRequest;
import io.ringkv.proto.v1.WriteSession;
import io.ringkv.server.config.Limits;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Regression test for a Txn whose answer is too large, on three real in-process nodes
 * (127.0.0.200-202). A 1 MiB value, then one Txn with a write session and 70 GETs of that key: its
 * 70 MiB result once went into the session record, the apply batch broke the store's 64 MiB limit
 * and the partition stopped on every member, again after every restart. Now the Txn is refused with
 * INVALID_ARGUMENT naming response-size-bytes-max (decided at apply, the same on every replica),
 * none of its writes applies, and every partition keeps serving, also after every node restarts.
 * Also: a Scan over 1 MiB values is paged by bytes, so no page exceeds the limit (each page here is
 * read by a default gRPC channel, whose inbound limit is 4 MiB) and paging sees every key once.
 */
class ResponseSizeLimitTest {
  private static final String[] HOSTS = {"127.0.0.200", "127.0.0.201", "127.0.0.202"};
  private static final int VALUE_BYTES = 1024 * 1024;
  private static final int GETS = 70;

  @TempDir Path dataDir;
  private RealTestCluster cluster;

  @AfterEach
  void close() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void aTxnOfSeventyMegabyteGetsIsRefusedAndThePartitionKeepsServingAfterRestarts()
      throws Exception {
    cluster = new RealTestCluster(dataDir, HOSTS, 4);
    ByteString key = cluster.keyOf(1, "big");
    ByteString marker = cluster.keyOf(1, "marker");
    cluster.putWithRetry(
        0,
        PutRequest.newBuilder().setKey(key).setValue(ByteString.copyFrom(new byte[VALUE_BYTES])));
    TxnRequest.Builder txn =
        TxnRequest.newBuilder()
            .setSession(WriteSession.newBuilder().setSessionId(7).setSequence(1))
            .addSuccess(
                RequestOp.newBuilder()
                    .setPut(PutRequest.newBuilder().setKey(marker).setValue(key)));
    for (int i = 0; i < GETS; i++) {
      txn.addSuccess(RequestOp.newBuilder().setGet(GetRequest.newBuilder().setKey(key)));
    }
    for (int via = 0; via < HOSTS.length; via++) {
      int node = via;
      assertThatThrownBy(
              () -> cluster.kv[node].withDeadlineAfter(20, TimeUnit.SECONDS).txn(txn.build()))
          .satisfies(e -> assertLimit(e, "response-size-bytes-max"));
    }
    assertThat(cluster.kv[2].get(GetRequest.newBuilder().setKey(marker).build()).getFound())
        .as("the refused Txn applied none of its writes")
        .isFalse();
    cluster.assertEveryPartitionServes("before-restart");

    cluster.restartAll();
    cluster.assertEveryPartitionServes("after-restart");
  }

  @Test
  void scanPagesAreCutByBytesSoNoResponseExceedsTheLimit() throws Exception {
    cluster = new RealTestCluster(dataDir, HOSTS, 4);
    int pairs = 10;
    for (int i = 0; i < pairs; i++) {
      cluster.putWithRetry(
          i % HOSTS.length,
          PutRequest.newBuilder()
              .setKey(ByteString.copyFromUtf8("scan/" + i))
              .setValue(ByteString.copyFrom(new byte[VALUE_BYTES])));
    }
    int seen = 0;
    int pages = 0;
    ScanRequest.Builder request =
        ScanRequest.newBuilder()
            .setStartKey(ByteString.copyFromUtf8("scan/"))
            .setEndKey(ByteString.copyFromUtf8("scan0"))
            .setLimit(1000);
    while (true) {
      ScanResponse page = cluster.kv[pages % HOSTS.length].scan(request.build());
      assertThat(page.getSerializedSize())
          .isLessThanOrEqualTo(Limits.RESPONSE_SIZE_BYTES_MAX_DEFAULT);
      assertThat(page.getKvsCount()).isGreaterThan(0);
      for (var kv : page.getKvsList()) {
        assertThat(kv.getKey().toStringUtf8()).isEqualTo("scan/" + seen);
        seen++;
      }
      pages++;
      if (!page.getMore()) {
        break;
      }
      request.setStartKey(page.getNextKey());
    }
    assertThat(seen).isEqualTo(pairs);
    assertThat(pages).as("1 MiB values under a 4 MiB response limit").isGreaterThanOrEqualTo(3);
  }
}
