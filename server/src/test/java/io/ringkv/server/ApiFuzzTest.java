package io.ringkv.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import com.google.protobuf.Message;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import io.ringkv.proto.v1.ClusterGrpc;
import io.ringkv.proto.v1.Compare;
import io.ringkv.proto.v1.DeleteRequest;
import io.ringkv.proto.v1.ErrorDetail;
import io.ringkv.proto.v1.GetRequest;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.proto.v1.RequestOp;
import io.ringkv.proto.v1.ScanRequest;
import io.ringkv.proto.v1.TxnRequest;
import io.ringkv.proto.v1.WriteSession;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A bounded, seeded fuzz test of the public API on a live cluster of three real in-process nodes
 * (127.0.0.206-208), with small limits so that random requests reach and pass every one of them:
 * Get, Put, Delete, Txn and Scan of every size up to and over the key, value, request, Txn op
 * count, scan limit and response size limits; Txns of many ops; write sessions reused, repeated and
 * out of order; unknown enum values; and raw garbage bytes sent to every unary method of the KV and
 * Cluster services through a raw-bytes marshaller. Every answer must be a status a client can act
 * on (never UNKNOWN, and INTERNAL only for undecodable bytes); no response may exceed
 * response-size-bytes-max (the client channel's inbound limit is set to exactly that). Afterwards
 * every node still serves and every partition takes a write that every replica applies, so no
 * replica stopped.
 *
 * <p>Prints its seed; {@code -Dfuzz.seed=} replays a run, {@code -Dfuzz.requests=} sets the count
 * (default a short run) and {@code -Dfuzz.seconds=} bounds its time.
 */
class ApiFuzzTest {
  private static final String[] HOSTS = {"127.0.0.206", "127.0.0.207", "127.0.0.208"};
  private static final int PARTITIONS = 4;
  private static final int KEY_MAX = 64;
  private static final int VALUE_MAX = 32 * 1024;
  private static final int REQUEST_MAX = 64 * 1024;
  private static final int TXN_OPS_MAX = 16;
  private static final int SCAN_LIMIT_MAX = 40;
  private static final int RESPONSE_MAX = 128 * 1024;
  private static final int REQUESTS_DEFAULT = 400;
  private static final int SECONDS_DEFAULT = 60;
  private static final String[] TAGS = {"{a}", "{b}", "{c}", "{d}", ""};
  private static final long[] SESSIONS = {11, 12, 13, -5};

  @TempDir Path dataDir;
  private RealTestCluster cluster;
  private final List<ManagedChannel> channels = new ArrayList<>();
  private SplittableRandom random;
  private final Map<String, Integer> outcomes = new TreeMap<>();
  private final List<String> failures = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (ManagedChannel channel : channels) {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void randomAndMalformedRequestsNeverStopAReplica() throws Exception {
    long seed = Long.getLong("fuzz.seed", System.nanoTime());
    int requests = Integer.getInteger("fuzz.requests", REQUESTS_DEFAULT);
    long seconds = Long.getLong("fuzz.seconds", SECONDS_DEFAULT);
    System.out.println(
        "ApiFuzzTest seed "
            + seed
            + " requests "
            + requests
            + " (replay: -Dfuzz.seed="
            + seed
            + ")");
    random = new SplittableRandom(seed);
    cluster =
        new RealTestCluster(
            dataDir,
            HOSTS,
            PARTITIONS,
            "--key-size-bytes-max",
            Integer.toString(KEY_MAX),
            "--value-size-bytes-max",
            Integer.toString(VALUE_MAX),
            "--request-size-bytes-max",
            Integer.toString(REQUEST_MAX),
            "--txn-ops-max",
            Integer.toString(TXN_OPS_MAX),
            "--scan-limit-max",
            Integer.toString(SCAN_LIMIT_MAX),
            "--response-size-bytes-max",
            Integer.toString(RESPONSE_MAX));
    KVGrpc.KVBlockingStub[] kv = new KVGrpc.KVBlockingStub[HOSTS.length];
    for (int i = 0; i < HOSTS.length; i++) {
      ManagedChannel channel =
          NettyChannelBuilder.forAddress(cluster.nodes[i].clientAddress())
              .usePlaintext()
              .maxInboundMessageSize(RESPONSE_MAX)
              .build();
      channels.add(channel);
      kv[i] = KVGrpc.newBlockingStub(channel);
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    int sent = 0;
    while (sent < requests && System.nanoTime() < deadline) {
      int node = random.nextInt(HOSTS.length);
      KVGrpc.KVBlockingStub stub = kv[node].withDeadlineAfter(10, TimeUnit.SECONDS);
      switch (random.nextInt(12)) {
        case 0, 1 -> send("get", get(), stub::get);
        case 2, 3, 4 -> send("put", put(), stub::put);
        case 5 -> send("delete", delete(), stub::delete);
        case 6, 7, 8 -> send("txn", txn(), stub::txn);
        case 9, 10 -> send("scan", scan(), stub::scan);
        default -> sendGarbage(channels.get(node));
      }
      sent++;
    }
    System.out.println("ApiFuzzTest sent " + sent + " requests, outcomes " + outcomes);
    assertThat(failures).as("unexpected answers (seed %d)", seed).isEmpty();
    for (RingkvNode node : cluster.nodes) {
      assertThat(node.isServing()).isTrue();
    }
    cluster.assertEveryPartitionServes("after-fuzz");
  }

  // ---------------------------------------------------------------- requests

  private ByteString bytes(int size) {
    byte[] data = new byte[size];
    random.nextBytes(data);
    return ByteString.copyFrom(data);
  }

  /** A size around {@code max}: small, at it, just over it, or far over it. */
  private int sizeAround(int max, int usual) {
    return switch (random.nextInt(10)) {
      case 0 -> max;
      case 1 -> max + 1;
      case 2 -> max + random.nextInt(1, 4 * max);
      case 3 -> random.nextInt(max + 1);
      default -> random.nextInt(usual + 1);
    };
  }

  /** Mostly keys of a few partitions (hash tags), sometimes empty or oversized ones. */
  private ByteString key() {
    int roll = random.nextInt(20);
    if (roll == 0) {
      return ByteString.EMPTY;
    }
    if (roll == 1) {
      return bytes(sizeAround(KEY_MAX, KEY_MAX));
    }
    String tag = TAGS[random.nextInt(TAGS.length)];
    return ByteString.copyFromUtf8(tag + "k" + random.nextInt(12));
  }

  private ByteString taggedKey(String tag) {
    return random.nextInt(30) == 0 ? key() : ByteString.copyFromUtf8(tag + "k" + random.nextInt(8));
  }

  private ByteString value() {
    return bytes(sizeAround(VALUE_MAX, 512));
  }

  private WriteSession session() {
    if (random.nextInt(3) == 0) {
      return WriteSession.getDefaultInstance();
    }
    return WriteSession.newBuilder()
        .setSessionId(SESSIONS[random.nextInt(SESSIONS.length)])
        .setSequence(random.nextInt(20) == 0 ? 0 : random.nextInt(1, 12))
        .build();
  }

  private GetRequest get() {
    GetRequest.Builder request = GetRequest.newBuilder().setKey(key());
    request.setConsistencyValue(random.nextInt(15) == 0 ? 7 : random.nextInt(2));
    return request.build();
  }

  private PutRequest put() {
    return putOf(key());
  }

  private PutRequest putOf(ByteString key) {
    return PutRequest.newBuilder()
        .setKey(key)
        .setValue(value())
        .setPrevKv(random.nextBoolean())
        .setSession(session())
        .build();
  }

  private DeleteRequest delete() {
    return DeleteRequest.newBuilder()
        .setKey(key())
        .setPrevKv(random.nextBoolean())
        .setSession(session())
        .build();
  }

  private TxnRequest txn() {
    String tag = TAGS[random.nextInt(TAGS.length - 1)];
    TxnRequest.Builder request = TxnRequest.newBuilder().setSession(session());
    int ops = sizeAround(TXN_OPS_MAX, 6);
    for (int i = 0; i < Math.min(ops, 4 * TXN_OPS_MAX); i++) {
      int roll = random.nextInt(10);
      if (roll < 2) {
        Compare.Builder compare =
            Compare.newBuilder()
                .setKey(taggedKey(tag))
                .setTargetValue(random.nextInt(30) == 0 ? 9 : random.nextInt(4))
                .setResultValue(random.nextInt(4));
        switch (compare.getTargetValue()) {
          case 0 -> compare.setValue(value());
          case 1 -> compare.setVersion(random.nextInt(4));
          case 2 -> compare.setModRevision(random.nextInt(50));
          default -> compare.setCreateRevision(random.nextInt(50));
        }
        request.addCompare(compare);
        continue;
      }
      RequestOp op =
          switch (roll) {
            case 2, 3, 4, 5 ->
                RequestOp.newBuilder()
                    .setGet(GetRequest.newBuilder().setKey(taggedKey(tag)))
                    .build();
            case 6, 7 -> RequestOp.newBuilder().setPut(putOf(taggedKey(tag))).build();
            case 8 ->
                RequestOp.newBuilder()
                    .setDelete(DeleteRequest.newBuilder().setKey(taggedKey(tag)))
                    .build();
            default -> RequestOp.getDefaultInstance();
          };
      if (random.nextBoolean()) {
        request.addSuccess(op);
      } else {
        request.addFailure(op);
      }
    }
    return request.build();
  }

  private ScanRequest scan() {
    ScanRequest.Builder request =
        ScanRequest.newBuilder()
            .setLimit(random.nextInt(20) == 0 ? -1 : sizeAround(SCAN_LIMIT_MAX, SCAN_LIMIT_MAX))
            .setKeysOnly(random.nextInt(4) == 0)
            .setConsistencyValue(random.nextInt(15) == 0 ? 5 : random.nextInt(2));
    switch (random.nextInt(4)) {
      case 0 -> request.setPrefix(ByteString.copyFromUtf8(TAGS[random.nextInt(TAGS.length)]));
      case 1 -> request.setStartKey(key()).setEndKey(key());
      case 2 -> request.setStartKey(key());
      default -> {} // everything
    }
    if (random.nextInt(20) == 0) {
      request.setPrefix(key()).setStartKey(key());
    }
    return request.build();
  }

  // ---------------------------------------------------------------- sending and judging

  private <Q extends Message> void send(
      String kind, Q request, Function<Q, ? extends Message> call) {
    try {
      Message response = call.apply(request);
      count(kind + " OK");
      if (response.getSerializedSize() > RESPONSE_MAX) {
        failures.add(kind + ": response of " + response.getSerializedSize() + " bytes");
      }
    } catch (StatusRuntimeException e) {
      Status.Code code = e.getStatus().getCode();
      ErrorDetail detail = KvErrors.detailOf(e);
      String reason = detail == null ? "" : " " + detail.getReason();
      count(kind + " " + code + reason);
      boolean acceptable =
          switch (code) {
            case INVALID_ARGUMENT,
                FAILED_PRECONDITION,
                ALREADY_EXISTS,
                UNAVAILABLE,
                DEADLINE_EXCEEDED ->
                true;
            // The client's own request over request-size-bytes-max is refused by gRPC itself;
            // an answer over the channel's inbound limit would be a broken response limit.
            case RESOURCE_EXHAUSTED -> detail != null || request.getSerializedSize() > REQUEST_MAX;
            default -> false;
          };
      if (!acceptable) {
        failures.add(kind + ": " + e.getStatus());
      }
    }
  }

  /** Raw bytes to one unary KV or Cluster method, as a client with a broken encoder would. */
  private void sendGarbage(ManagedChannel channel) {
    List<MethodDescriptor<?, ?>> methods = new ArrayList<>();
    for (var method : KVGrpc.getServiceDescriptor().getMethods()) {
      methods.add(method);
    }
    for (var method : ClusterGrpc.getServiceDescriptor().getMethods()) {
      if (method.getType() == MethodDescriptor.MethodType.UNARY) {
        methods.add(method);
      }
    }
    MethodDescriptor<?, ?> target = methods.get(random.nextInt(methods.size()));
    MethodDescriptor<byte[], byte[]> raw =
        MethodDescriptor.<byte[], byte[]>newBuilder()
            .setType(MethodDescriptor.MethodType.UNARY)
            .setFullMethodName(target.getFullMethodName())
            .setRequestMarshaller(RawBytes.INSTANCE)
            .setResponseMarshaller(RawBytes.INSTANCE)
            .build();
    byte[] garbage = new byte[sizeAround(256, 64)];
    random.nextBytes(garbage);
    String kind = "raw " + target.getBareMethodName();
    try {
      ClientCalls.blockingUnaryCall(
          channel, raw, CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS), garbage);
      count(kind + " OK");
    } catch (StatusRuntimeException e) {
      count("raw " + e.getStatus().getCode());
      if (e.getStatus().getCode() == Status.Code.UNKNOWN) {
        failures.add(kind + ": " + e.getStatus());
      }
    }
  }

  private void count(String outcome) {
    outcomes.merge(outcome, 1, Integer::sum);
  }

  /** Passes bytes through unchanged. */
  private enum RawBytes implements MethodDescriptor.Marshaller<byte[]> {
    INSTANCE;

    @Override
    public InputStream stream(byte[] value) {
      return new ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    }
  }
}
