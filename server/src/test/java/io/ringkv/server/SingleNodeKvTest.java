package io.ringkv.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.ringkv.proto.v1.Compare;
import io.ringkv.proto.v1.DeleteRequest;
import io.ringkv.proto.v1.ErrorDetail;
import io.ringkv.proto.v1.GetRequest;
import io.ringkv.proto.v1.GetResponse;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.proto.v1.PutResponse;
import io.ringkv.proto.v1.ReadConsistency;
import io.ringkv.proto.v1.RequestOp;
import io.ringkv.proto.v1.ScanRequest;
import io.ringkv.proto.v1.ScanResponse;
import io.ringkv.proto.v1.TxnRequest;
import io.ringkv.proto.v1.TxnResponse;
import io.ringkv.proto.v1.WriteSession;
import io.ringkv.server.config.ConfigLoader;
import io.ringkv.server.config.NodeConfig;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves the whole write and read path on one real node (real RocksDB, real gRPC, the multi-Raft
 * driver with one replica per partition): put/get/delete with etcd-like revisions and versions, Txn
 * compare-and-set, exactly-once sessions (a retry is answered, not re-applied; an older sequence is
 * refused), Scan merged across partitions in key order with paging, and clear limit/malformed
 * errors. A restart keeps every acknowledged write.
 */
class SingleNodeKvTest {
  @TempDir Path dataDir;
  private final List<AutoCloseable> toClose = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = toClose.size() - 1; i >= 0; i--) {
      toClose.get(i).close();
    }
  }

  @Test
  void writesReadsTxnSessionsScanAndRestart() throws Exception {
    String host = "127.0.0.107";
    String[] flags = {
      "--data-dir",
      dataDir.toString(),
      "--host",
      host,
      "--client-addr",
      ":" + freePort(host),
      "--peer-addr",
      ":" + freePort(host),
      "--metrics-addr",
      ":" + freePort(host),
      "--partitions",
      "8",
      "--raft-tick-millis",
      "20",
      "--key-size-bytes-max",
      "64",
      "--value-size-bytes-max",
      "1024",
      "--request-size-bytes-max",
      "4096"
    };
    NodeConfig config = ConfigLoader.load(flags);
    RingkvNode node = RingkvNode.start(config);
    KVGrpc.KVBlockingStub kv = stub(node);

    PutResponse first = kv.put(put("alpha", "1"));
    PutResponse second =
        kv.put(
            PutRequest.newBuilder()
                .setKey(bytes("alpha"))
                .setValue(bytes("2"))
                .setPrevKv(true)
                .build());
    assertThat(second.getRevision()).isGreaterThan(first.getRevision());
    assertThat(second.getPrev().getValue().toStringUtf8()).isEqualTo("1");
    GetResponse got = kv.get(GetRequest.newBuilder().setKey(bytes("alpha")).build());
    assertThat(got.getFound()).isTrue();
    assertThat(got.getValue().toStringUtf8()).isEqualTo("2");
    assertThat(got.getVersion()).isEqualTo(2);
    assertThat(got.getCreateRevision()).isEqualTo(first.getRevision());
    assertThat(got.getModRevision()).isEqualTo(second.getRevision());
    assertThat(got.getHeader().getNodeId()).isEqualTo(1);
    assertThat(got.getHeader().getRaftTerm()).isGreaterThan(0);

    // Txn CAS: succeeds on the right mod revision, fails (running the else branch) on a stale one.
    TxnResponse cas = kv.txn(casOn("alpha", second.getRevision(), "3"));
    assertThat(cas.getSucceeded()).isTrue();
    TxnResponse stale = kv.txn(casOn("alpha", second.getRevision(), "4"));
    assertThat(stale.getSucceeded()).isFalse();
    assertThat(stale.getResponses(0).getGet().getValue().toStringUtf8()).isEqualTo("3");

    // Sessions: the same (sid, seq) applies once; an older seq is refused.
    WriteSession session = WriteSession.newBuilder().setSessionId(77).setSequence(5).build();
    PutRequest counted =
        PutRequest.newBuilder()
            .setKey(bytes("once"))
            .setValue(bytes("x"))
            .setSession(session)
            .build();
    PutResponse once = kv.put(counted);
    PutResponse retried = kv.put(counted);
    assertThat(retried.getRevision()).isEqualTo(once.getRevision());
    assertThat(kv.get(GetRequest.newBuilder().setKey(bytes("once")).build()).getVersion())
        .isEqualTo(1);
    assertThatThrownBy(() ->
            kv.put(counted.toBuilder().setSession(session.toBuilder().setSequence(4)).build()))
        .satisfies(
            e -> assertCode(e, Status.Code.FAILED_PRECONDITION, ErrorDetail.Reason.MALFORMED));

    // Delete, and a read of a missing key.
    assertThat(kv.delete(DeleteRequest.newBuilder().setKey(bytes("once")).build()).getDeleted())
        .isTrue();
    assertThat(kv.get(GetRequest.newBuilder().setKey(bytes("once")).build()).getFound()).isFalse();

    // Scan across partitions, paged, in key order.
    for (int i = 0; i < 25; i++) {
      kv.put(put(String.format("scan/%03d", i), "v" + i));
    }
    List<String> seen = new ArrayList<>();
    ByteString start = bytes("scan/");
    while (true) {
      ScanResponse page =
          kv.scan(
              ScanRequest.newBuilder()
                  .setStartKey(start)
                  .setEndKey(bytes("scan0"))
                  .setLimit(10)
                  .build());
      page.getKvsList().forEach(pair -> seen.add(pair.getKey().toStringUtf8()));
      if (!page.getMore()) {
        break;
      }
      start = page.getNextKey();
    }
    assertThat(seen).hasSize(25).isSorted();
    assertThat(kv.scan(ScanRequest.newBuilder().setPrefix(bytes("scan/01")).build()).getKvsCount())
        .isEqualTo(10);

    // Limits and malformed input: clear errors, node stays up.
    assertThatThrownBy(() -> kv.put(put("k".repeat(65), "v")))
        .satisfies(e -> assertLimit(e, "key-size-bytes-max"));
    assertThatThrownBy(() -> kv.put(put("k", "v".repeat(1025))))
        .satisfies(e -> assertLimit(e, "value-size-bytes-max"));
    assertThatThrownBy(() -> kv.put(put("", "v")))
        .satisfies(e -> assertCode(e, Status.Code.INVALID_ARGUMENT, ErrorDetail.Reason.MALFORMED));
    assertThatThrownBy(() -> kv.put(put("k", "v".repeat(5000))))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED));
    assertThatThrownBy(() -> kv.scan(ScanRequest.newBuilder().setLimit(20_000).build()))
        .satisfies(e -> assertLimit(e, "scan-limit-max"));
    assertThatThrownBy(() ->
            kv.scan(ScanRequest.newBuilder().setPrefix(bytes("a")).setStartKey(bytes("b")).build()))
        .satisfies(e -> assertCode(e, Status.Code.INVALID_ARGUMENT, ErrorDetail.Reason.MALFORMED));
    assertThat(
            kv.get(
                    GetRequest.newBuilder()
                        .setKey(bytes("alpha"))
                        .setConsistency(ReadConsistency.SERIALIZABLE)
                        .build())
                .getValue()
                .toStringUtf8())
        .isEqualTo("3");

    // Restart: everything acknowledged is still there, and the session still deduplicates.
    node.close();
    RingkvNode restarted = RingkvNode.start(ConfigLoader.load(flags));
    toClose.add(restarted);
    KVGrpc.KVBlockingStub again = stub(restarted);
    assertThat(
            again
                .get(GetRequest.newBuilder().setKey(bytes("alpha")).build())
                .getValue()
                .toStringUtf8())
        .isEqualTo("3");
    assertThat(again.scan(ScanRequest.newBuilder().setPrefix(bytes("scan/")).build()).getKvsCount())
        .isEqualTo(25);
    WriteSession next = session.toBuilder().setSequence(6).build();
    assertThat(again.put(counted.toBuilder().setSession(next).build()).getRevision())
        .isGreaterThan(once.getRevision());
  }

  @Test
  void proposalsBeyondTheInflightLimitAreRefusedWithResourceExhausted() throws Exception {
    String host = "127.0.0.107";
    NodeConfig config =
        ConfigLoader.load(
            new String[] {
              "--data-dir",
              dataDir.toString(),
              "--host",
              host,
              "--client-addr",
              ":" + freePort(host),
              "--peer-addr",
              ":" + freePort(host),
              "--metrics-addr",
              ":" + freePort(host),
              "--partitions",
              "1",
              "--raft-tick-millis",
              "20",
              "--inflight-proposals-per-partition-max",
              "1"
            });
    RingkvNode node = RingkvNode.start(config);
    toClose.add(node);
    KVGrpc.KVBlockingStub blocking = stub(node);
    blocking.put(put("warm", "up")); // waits for the single replica's election
    KVGrpc.KVStub async = KVGrpc.newStub(blocking.getChannel());
    int calls = 200;
    java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(calls);
    java.util.concurrent.atomic.AtomicInteger ok = new java.util.concurrent.atomic.AtomicInteger();
    java.util.Queue<Throwable> errors = new java.util.concurrent.ConcurrentLinkedQueue<>();
    for (int i = 0; i < calls; i++) {
      async
          .withDeadlineAfter(20, TimeUnit.SECONDS)
          .put(
              put("flood-" + i, "v"),
              new io.grpc.stub.StreamObserver<>() {
                @Override
                public void onNext(PutResponse response) {
                  ok.incrementAndGet();
                }

                @Override
                public void onError(Throwable error) {
                  errors.add(error);
                  done.countDown();
                }

                @Override
                public void onCompleted() {
                  done.countDown();
                }
              });
    }
    assertThat(done.await(30, TimeUnit.SECONDS)).isTrue();
    // 200 puts arrive within a few driver iterations while one proposal is pending: most are
    // refused, every refusal names the limit, and whatever was accepted applied.
    assertThat(errors).isNotEmpty();
    for (Throwable error : errors) {
      assertThat(((StatusRuntimeException) error).getStatus().getCode())
          .isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
      assertThat(KvErrors.detailOf(error).getLimitName())
          .isEqualTo("inflight-proposals-per-partition-max");
    }
    assertThat(ok.get() + errors.size()).isEqualTo(calls);
    assertThat(ok.get()).isGreaterThan(0);
  }

  static TxnRequest casOn(String key, long modRevision, String newValue) {
    return TxnRequest.newBuilder()
        .addCompare(
            Compare.newBuilder()
                .setKey(bytes(key))
                .setTarget(Compare.Target.MOD_REVISION)
                .setResult(Compare.Result.EQUAL)
                .setModRevision(modRevision))
        .addSuccess(RequestOp.newBuilder().setPut(put(key, newValue)))
        .addFailure(RequestOp.newBuilder().setGet(GetRequest.newBuilder().setKey(bytes(key))))
        .build();
  }

  static void assertLimit(Throwable error, String limitName) {
    assertCode(error, Status.Code.INVALID_ARGUMENT, ErrorDetail.Reason.LIMIT_EXCEEDED);
    assertThat(KvErrors.detailOf(error).getLimitName()).isEqualTo(limitName);
  }

  static void assertCode(Throwable error, Status.Code code, ErrorDetail.Reason reason) {
    assertThat(error).isInstanceOf(StatusRuntimeException.class);
    assertThat(((StatusRuntimeException) error).getStatus().getCode()).isEqualTo(code);
    assertThat(KvErrors.detailOf(error).getReason()).isEqualTo(reason);
  }

  static PutRequest put(String key, String value) {
    return PutRequest.newBuilder().setKey(bytes(key)).setValue(bytes(value)).build();
  }

  static ByteString bytes(String text) {
    return ByteString.copyFrom(text, StandardCharsets.UTF_8);
  }

  private KVGrpc.KVBlockingStub stub(RingkvNode node) {
    ManagedChannel channel =
        NettyChannelBuilder.forAddress(node.clientAddress()).usePlaintext().build();
    toClose.add(() -> {
      channel.shutdownNow();
      channel.awaitTermination(5, TimeUnit.SECONDS);
    });
    return KVGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS);
  }

  static int freePort(String host) throws Exception {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName(host))) {
      return socket.getLocalPort();
    }
  }
}
