package io.ringkv.jepsen.harness.client;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.StreamObserver;
import io.ringkv.jepsen.history.OpType;
import io.ringkv.proto.v1.Compare;
import io.ringkv.proto.v1.ErrorDetail;
import io.ringkv.proto.v1.GetRequest;
import io.ringkv.proto.v1.GetResponse;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.proto.v1.KeyValue;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.proto.v1.PutResponse;
import io.ringkv.proto.v1.ScanRequest;
import io.ringkv.proto.v1.ScanResponse;
import io.ringkv.proto.v1.TxnRequest;
import io.ringkv.proto.v1.TxnResponse;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Proves the adapter's Jepsen outcome mapping over real gRPC on loopback, against a scripted KV
 * server (the real one is not written yet): a write the server refused before proposing
 * (INVALID_ARGUMENT, NOT_LEADER detail) is :fail, a write that timed out or lost quorum is :info, a
 * read that errs is :fail, a cas whose compare fails is :fail, UNIMPLEMENTED is a harness error,
 * and a scan follows pages by next_key.
 */
class GrpcKvClientTest {
  private static final Duration DEADLINE = Duration.ofMillis(300);

  private Server server;
  private ManagedChannel channel;

  @AfterEach
  void stop() throws InterruptedException {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    if (server != null) {
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  private GrpcKvClient clientOf(KVGrpc.KVImplBase service) throws Exception {
    NettyServerBuilder builder =
        NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0));
    if (service != null) {
      builder.addService(service);
    }
    server = builder.build().start();
    channel = NettyChannelBuilder.forAddress("127.0.0.1", server.getPort()).usePlaintext().build();
    return new GrpcKvClient(channel, DEADLINE);
  }

  @Test
  void unimplementedIsAHarnessError() throws Exception {
    Outcome outcome = clientOf(null).write("k", "1");
    assertThat(outcome.harnessError()).isTrue();
    assertThat(outcome.error()).contains("ringkv.v1.KV/Put", "UNIMPLEMENTED");
  }

  @Test
  void writesFailOnlyWhenRefusedBeforeProposing() throws Exception {
    GrpcKvClient client = clientOf(new ScriptedKv());
    assertThat(client.write("invalid", "1").type()).isEqualTo(OpType.FAIL);
    Outcome notLeader = client.write("not-leader", "1");
    assertThat(notLeader.type()).isEqualTo(OpType.FAIL);
    assertThat(notLeader.error()).contains("NOT_LEADER");
    assertThat(client.write("no-quorum", "1").type()).isEqualTo(OpType.INFO);
    Outcome timedOut = client.write("hang", "1");
    assertThat(timedOut.type()).isEqualTo(OpType.INFO);
    assertThat(timedOut.error()).contains("DEADLINE_EXCEEDED");
    assertThat(client.write("ok", "1").type()).isEqualTo(OpType.OK);
    assertThat(client.write("ok", "1").harnessError()).isFalse();
  }

  @Test
  void readsFailOnAnyErrorAndReturnValuesOrNull() throws Exception {
    GrpcKvClient client = clientOf(new ScriptedKv());
    assertThat(client.read("hang").type()).isEqualTo(OpType.FAIL);
    assertThat(client.read("no-quorum").type()).isEqualTo(OpType.FAIL);
    assertThat(client.read("absent")).isEqualTo(Outcome.ok(null));
    assertThat(client.read("present")).isEqualTo(Outcome.ok("3"));
  }

  @Test
  void casIsATxnOnTheValueAndFailsWhenTheCompareDoesNotHold() throws Exception {
    GrpcKvClient client = clientOf(new ScriptedKv());
    assertThat(client.compareAndSet("k", "3", "4").type()).isEqualTo(OpType.OK);
    assertThat(client.compareAndSet("k", "2", "4").type()).isEqualTo(OpType.FAIL);
  }

  @Test
  void scanFollowsPages() throws Exception {
    Outcome outcome = clientOf(new ScriptedKv()).scanKeys("p/");
    assertThat(outcome.type()).isEqualTo(OpType.OK);
    assertThat(outcome.value()).isEqualTo(List.of("p/1", "p/2", "p/3"));
  }

  /** Answers by key: errors for named keys; the value "3" for "present" and for cas on "k". */
  private static final class ScriptedKv extends KVGrpc.KVImplBase {
    private final TreeMap<String, String> scan =
        new TreeMap<>(java.util.Map.of("p/1", "x", "p/2", "x", "p/3", "x"));

    @Override
    public void put(PutRequest request, StreamObserver<PutResponse> observer) {
      if (!answerError(request.getKey().toStringUtf8(), observer)) {
        observer.onNext(PutResponse.getDefaultInstance());
        observer.onCompleted();
      }
    }

    @Override
    public void get(GetRequest request, StreamObserver<GetResponse> observer) {
      String key = request.getKey().toStringUtf8();
      if (!answerError(key, observer)) {
        GetResponse.Builder response = GetResponse.newBuilder();
        if (key.equals("present")) {
          response.setFound(true).setValue(ByteString.copyFromUtf8("3"));
        }
        observer.onNext(response.build());
        observer.onCompleted();
      }
    }

    @Override
    public void txn(TxnRequest request, StreamObserver<TxnResponse> observer) {
      Compare compare = request.getCompare(0);
      boolean holds =
          compare.getTarget() == Compare.Target.VALUE
              && compare.getValue().toStringUtf8().equals("3")
              && request.getSuccess(0).getPut().getValue().toStringUtf8().equals("4");
      observer.onNext(TxnResponse.newBuilder().setSucceeded(holds).build());
      observer.onCompleted();
    }

    @Override
    public void scan(ScanRequest request, StreamObserver<ScanResponse> observer) {
      String from = request.getStartKey().isEmpty() ? "" : request.getStartKey().toStringUtf8();
      ScanResponse.Builder response = ScanResponse.newBuilder();
      String key = scan.ceilingKey(from);
      if (key != null) {
        response.addKvs(KeyValue.newBuilder().setKey(ByteString.copyFromUtf8(key)));
        String next = scan.higherKey(key);
        if (next != null) {
          response.setMore(true).setNextKey(ByteString.copyFromUtf8(next));
        }
      }
      observer.onNext(response.build());
      observer.onCompleted();
    }

    private static boolean answerError(String key, StreamObserver<?> observer) {
      switch (key) {
        case "invalid" ->
            observer.onError(Status.INVALID_ARGUMENT.withDescription("empty").asRuntimeException());
        case "not-leader" ->
            observer.onError(
                withDetail(Status.Code.FAILED_PRECONDITION, ErrorDetail.Reason.NOT_LEADER));
        case "no-quorum" ->
            observer.onError(withDetail(Status.Code.UNAVAILABLE, ErrorDetail.Reason.NO_QUORUM));
        case "hang" -> {} // never answers: the client's deadline expires
        default -> {
          return false;
        }
      }
      return true;
    }

    private static Throwable withDetail(Status.Code code, ErrorDetail.Reason reason) {
      return StatusProto.toStatusRuntimeException(
          com.google.rpc.Status.newBuilder()
              .setCode(code.value())
              .setMessage(reason.name())
              .addDetails(Any.pack(ErrorDetail.newBuilder().setReason(reason).build()))
              .build());
    }
  }
}
