package io.ringkv.jepsen.harness.client;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.ringkv.proto.v1.Compare;
import io.ringkv.proto.v1.ErrorDetail;
import io.ringkv.proto.v1.GetRequest;
import io.ringkv.proto.v1.GetResponse;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.proto.v1.KeyValue;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.proto.v1.ReadConsistency;
import io.ringkv.proto.v1.RequestOp;
import io.ringkv.proto.v1.ScanRequest;
import io.ringkv.proto.v1.ScanResponse;
import io.ringkv.proto.v1.TxnRequest;
import io.ringkv.proto.v1.TxnResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * {@link KvClientAdapter} over the raw {@code ringkv.v1.KV} gRPC stubs, on a channel to one node,
 * every call with its own deadline. Reads are linearizable Gets and Scans. A compare-and-set is a
 * Txn: compare the value equal to the expected one (or, for an absent expected value, version 0),
 * then put the new value.
 *
 * <p>Error mapping. A read that errs is {@code :fail}. A write is {@code :fail} only when the
 * server says it refused before proposing: INVALID_ARGUMENT, or an {@link ErrorDetail} reason of
 * NOT_LEADER, LIMIT_EXCEEDED or MALFORMED. Anything else after sending a write (DEADLINE_EXCEEDED,
 * UNAVAILABLE, NO_QUORUM, a dropped connection) is {@code :info}: it may have been applied.
 * UNIMPLEMENTED is a harness error: the node cannot run the test.
 */
public final class GrpcKvClient implements KvClientAdapter {
  /** Most keys one Scan page asks for. */
  static final int SCAN_PAGE_KEYS_MAX = 1000;

  /** Most Scan pages one set read follows before giving up (bounds a read at 100k keys). */
  static final int SCAN_PAGES_MAX = 100;

  private static final Set<ErrorDetail.Reason> REFUSED_BEFORE_PROPOSING =
      Set.of(
          ErrorDetail.Reason.NOT_LEADER,
          ErrorDetail.Reason.LIMIT_EXCEEDED,
          ErrorDetail.Reason.MALFORMED);

  private final ManagedChannel channel;
  private final Duration deadline;

  /** A client on {@code channel} (owned by the caller) with {@code deadline} per call. */
  public GrpcKvClient(ManagedChannel channel, Duration deadline) {
    this.channel = channel;
    this.deadline = deadline;
  }

  private KVGrpc.KVBlockingStub stub() {
    return KVGrpc.newBlockingStub(channel)
        .withDeadlineAfter(deadline.toNanos(), TimeUnit.NANOSECONDS);
  }

  @Override
  public Outcome read(String key) {
    try {
      GetResponse response =
          stub()
              .get(
                  GetRequest.newBuilder()
                      .setKey(bytes(key))
                      .setConsistency(ReadConsistency.LINEARIZABLE)
                      .build());
      return Outcome.ok(response.getFound() ? response.getValue().toStringUtf8() : null);
    } catch (StatusRuntimeException e) {
      return classify(e, false, "Get");
    }
  }

  @Override
  public Outcome write(String key, String value) {
    try {
      stub().put(PutRequest.newBuilder().setKey(bytes(key)).setValue(bytes(value)).build());
      return Outcome.ok(null);
    } catch (StatusRuntimeException e) {
      return classify(e, true, "Put");
    }
  }

  @Override
  public Outcome compareAndSet(String key, String expected, String newValue) {
    Compare.Builder compare =
        Compare.newBuilder().setKey(bytes(key)).setResult(Compare.Result.EQUAL);
    if (expected == null) {
      compare.setTarget(Compare.Target.VERSION).setVersion(0);
    } else {
      compare.setTarget(Compare.Target.VALUE).setValue(bytes(expected));
    }
    TxnRequest request =
        TxnRequest.newBuilder()
            .addCompare(compare)
            .addSuccess(
                RequestOp.newBuilder()
                    .setPut(PutRequest.newBuilder().setKey(bytes(key)).setValue(bytes(newValue))))
            .build();
    try {
      TxnResponse response = stub().txn(request);
      return response.getSucceeded() ? Outcome.ok(null) : Outcome.fail("compare failed");
    } catch (StatusRuntimeException e) {
      return classify(e, true, "Txn");
    }
  }

  @Override
  public Outcome scanKeys(String prefix) {
    List<String> keys = new ArrayList<>();
    ByteString start = ByteString.EMPTY;
    try {
      for (int page = 0; page < SCAN_PAGES_MAX; page++) {
        ScanRequest.Builder request =
            ScanRequest.newBuilder()
                .setLimit(SCAN_PAGE_KEYS_MAX)
                .setKeysOnly(true)
                .setConsistency(ReadConsistency.LINEARIZABLE);
        if (start.isEmpty()) {
          request.setPrefix(bytes(prefix));
        } else {
          // The node takes a prefix or a range, not both: a continuation is the rest of the
          // prefix's range, from the page's next key to the first key past the prefix.
          request.setStartKey(start).setEndKey(prefixEnd(bytes(prefix)));
        }
        ScanResponse response = stub().scan(request.build());
        for (KeyValue kv : response.getKvsList()) {
          keys.add(kv.getKey().toStringUtf8());
        }
        if (!response.getMore()) {
          return Outcome.ok(keys);
        }
        start = response.getNextKey();
      }
      return Outcome.fail("scan of " + prefix + " longer than " + SCAN_PAGES_MAX + " pages");
    } catch (StatusRuntimeException e) {
      return classify(e, false, "Scan");
    }
  }

  @Override
  public void close() {
    // The channel belongs to the caller.
  }

  /** The outcome of a call that ended in {@code e}; {@code mutates} for writes. */
  static Outcome classify(StatusRuntimeException e, boolean mutates, String method) {
    Status status = e.getStatus();
    String description = status.getCode() + describe(status);
    if (status.getCode() == Status.Code.UNIMPLEMENTED) {
      return Outcome.harnessError(
          "the node does not implement ringkv.v1.KV/" + method + " (" + description + ")");
    }
    if (!mutates) {
      return Outcome.fail(description);
    }
    Optional<ErrorDetail> detail = errorDetail(e);
    if (status.getCode() == Status.Code.INVALID_ARGUMENT
        || detail.map(d -> REFUSED_BEFORE_PROPOSING.contains(d.getReason())).orElse(false)) {
      return Outcome.fail(description + detail.map(d -> " " + d.getReason()).orElse(""));
    }
    return Outcome.info(description + detail.map(d -> " " + d.getReason()).orElse(""));
  }

  private static String describe(Status status) {
    return status.getDescription() == null ? "" : ": " + status.getDescription();
  }

  /** The {@link ErrorDetail} a failed call carries, if any. */
  public static Optional<ErrorDetail> errorDetail(StatusRuntimeException e) {
    com.google.rpc.Status rich = StatusProto.fromThrowable(e);
    if (rich == null) {
      return Optional.empty();
    }
    for (Any any : rich.getDetailsList()) {
      if (any.is(ErrorDetail.class)) {
        try {
          return Optional.of(any.unpack(ErrorDetail.class));
        } catch (InvalidProtocolBufferException malformed) {
          return Optional.empty();
        }
      }
    }
    return Optional.empty();
  }

  /** The first key after every key starting with {@code prefix}; empty (unbounded) if none. */
  static ByteString prefixEnd(ByteString prefix) {
    byte[] end = prefix.toByteArray();
    for (int i = end.length - 1; i >= 0; i--) {
      if (end[i] != (byte) 0xff) {
        end[i]++;
        return ByteString.copyFrom(end, 0, i + 1);
      }
    }
    return ByteString.EMPTY;
  }

  private static ByteString bytes(String s) {
    return ByteString.copyFrom(s, StandardCharsets.UTF_8);
  }
}
