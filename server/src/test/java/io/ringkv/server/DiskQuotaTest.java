package io.ringkv.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.ringkv.proto.v1.DeleteRequest;
import io.ringkv.proto.v1.ErrorDetail;
import io.ringkv.proto.v1.GetRequest;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.proto.v1.RequestOp;
import io.ringkv.proto.v1.ScanRequest;
import io.ringkv.proto.v1.TxnRequest;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves the disk quota on a real node (127.0.14.10) with disk-quota-bytes of 2 MiB: 32 KiB puts
 * fill the data directory past the quota, after which a Put and a Txn that puts are refused with
 * RESOURCE_EXHAUSTED naming the node and the quota, while Get, Scan, Delete and a read-only Txn
 * still work; deleting the keys (changefeed retention and Raft log compaction set short, and the
 * node's own compaction while over quota) brings the directory back under, and a Put is accepted
 * again without any restart. The metrics show the refusals.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class DiskQuotaTest {
  static final String[] HOSTS = {"127.0.14.10"};
  static final long QUOTA_BYTES = 2 * 1024 * 1024;
  static final int VALUE_BYTES = 32 * 1024;

  /** Bounds the fill: 400 x 32 KiB = 12.5 MiB, far past the quota. */
  static final int FILL_WRITES_MAX = 400;

  static final long RECOVERY_SECONDS_MAX = 90;

  @TempDir Path dataDir;

  @Test
  void writesAreRefusedPastTheQuotaWhileReadsAndDeletesWorkAndTheRefusalLiftsAfterDeletes()
      throws Exception {
    try (RealTestCluster cluster =
        new RealTestCluster(
            dataDir,
            HOSTS,
            4,
            "--disk-quota-bytes",
            Long.toString(QUOTA_BYTES),
            "--changefeed-retention-age-millis",
            "100",
            "--changefeed-retention-check-interval-millis",
            "100",
            "--log-compaction-entries",
            "8")) {
      // A fresh deadline per call: a stub's deadline is fixed when the stub is made.
      java.util.function.Supplier<KVGrpc.KVBlockingStub> stub =
          () -> cluster.kv[0].withDeadlineAfter(10, TimeUnit.SECONDS);
      ByteString value = ByteString.copyFrom(new byte[VALUE_BYTES]);
      int written = 0;
      StatusRuntimeException refusal = null;
      while (refusal == null) {
        assertThat(written).as("refused within the bound").isLessThan(FILL_WRITES_MAX);
        try {
          stub.get().put(PutRequest.newBuilder().setKey(key(written)).setValue(value).build());
          written++;
        } catch (StatusRuntimeException e) {
          refusal = e;
        }
      }
      System.out.println("refused after " + written + " puts: " + refusal.getStatus());
      assertThat(written).as("the quota is not hit at once").isGreaterThan(4);
      assertRefusedByQuota(refusal);
      StatusRuntimeException txnRefusal =
          org.junit.jupiter.api.Assertions.assertThrows(
              StatusRuntimeException.class,
              () ->
                  stub.get()
                      .txn(
                          TxnRequest.newBuilder()
                              .addSuccess(
                                  RequestOp.newBuilder()
                                      .setPut(
                                          PutRequest.newBuilder().setKey(key(0)).setValue(value)))
                              .build()));
      assertRefusedByQuota(txnRefusal);

      // Reads, a read-only Txn and deletes still work.
      assertThat(stub.get().get(GetRequest.newBuilder().setKey(key(1)).build()).getFound())
          .isTrue();
      assertThat(
              stub.get()
                  .scan(
                      ScanRequest.newBuilder().setPrefix(ByteString.copyFromUtf8("fill/")).build())
                  .getKvsCount())
          .isPositive();
      assertThat(
              stub.get()
                  .txn(
                      TxnRequest.newBuilder()
                          .addSuccess(
                              RequestOp.newBuilder().setGet(GetRequest.newBuilder().setKey(key(0))))
                          .build())
                  .getSucceeded())
          .isTrue();
      for (int i = 0; i < written; i++) {
        assertThat(
                stub.get().delete(DeleteRequest.newBuilder().setKey(key(i)).build()).getDeleted())
            .isTrue();
      }

      long recoveryStart = System.nanoTime();
      LocalTestCluster.awaitTrue(
          "a put is accepted again after the deletes",
          RECOVERY_SECONDS_MAX,
          () -> {
            try {
              stub.get().put(PutRequest.newBuilder().setKey(key(0)).setValue(value).build());
              return true;
            } catch (StatusRuntimeException e) {
              if (e.getStatus().getCode() != Status.Code.RESOURCE_EXHAUSTED) {
                throw e;
              }
              return false;
            }
          });
      System.out.printf(
          "writes accepted again %d ms after the deletes%n",
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - recoveryStart));
      String metrics = cluster.nodes[0].registry().scrape();
      assertThat(metrics).contains("ringkv_disk_quota_bytes " + (double) QUOTA_BYTES);
      assertThat(refusedWrites(metrics)).isGreaterThanOrEqualTo(2);
    }
  }

  private static ByteString key(int index) {
    return ByteString.copyFromUtf8("fill/" + index);
  }

  private static void assertRefusedByQuota(StatusRuntimeException refusal) {
    assertThat(refusal.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    assertThat(refusal.getStatus().getDescription())
        .contains("node 1")
        .contains("disk-quota-bytes " + QUOTA_BYTES);
    ErrorDetail detail = KvErrors.detailOf(refusal);
    assertThat(detail).isNotNull();
    assertThat(detail.getLimitName()).isEqualTo("disk-quota-bytes");
    assertThat(detail.getLimitValue()).isEqualTo(QUOTA_BYTES);
  }

  private static double refusedWrites(String metrics) {
    return metrics
        .lines()
        .filter(line -> line.startsWith("ringkv_disk_quota_refused_writes_total"))
        .mapToDouble(line -> Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1)))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no refused-writes counter in\n" + metrics));
  }

  @Test
  void sizeOfCountsEveryFileUnderTheDirectory() throws Exception {
    java.nio.file.Files.createDirectories(dataDir.resolve("a/b"));
    java.nio.file.Files.write(dataDir.resolve("a/one"), new byte[100]);
    java.nio.file.Files.write(dataDir.resolve("a/b/two"), new byte[23]);
    assertThat(DiskQuota.sizeOf(dataDir)).isEqualTo(123);
  }
}
