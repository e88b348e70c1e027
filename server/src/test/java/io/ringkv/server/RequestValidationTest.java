package io.ringkv.server;

import static io.ringkv.server.SingleNodeKvTest.assertCode;
import static io.ringkv.server.SingleNodeKvTest.assertLimit;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.ringkv.proto.v1.Compare;
import io.ringkv.proto.v1.ErrorDetail;
import io.ringkv.proto.v1.GetRequest;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.proto.v1.ReadConsistency;
import io.ringkv.proto.v1.RequestOp;
import io.ringkv.proto.v1.ScanRequest;
import io.ringkv.proto.v1.TxnRequest;
import io.ringkv.proto.v1.WriteSession;
import io.ringkv.routing.PartitionLayout;
import io.ringkv.server.config.Limits;
import org.junit.jupiter.api.Test;

/**
 * Proves that request validation, with no node behind it, refuses every request that breaks a limit
 * with INVALID_ARGUMENT naming that limit, refuses malformed requests as MALFORMED, and accepts
 * requests right at each limit.
 */
class RequestValidationTest {
  private static final Limits LIMITS =
      new Limits(16, 64, 4096, 4, 10, 8, 4096 + Limits.PEER_FRAME_OVERHEAD_BYTES, 16, 64 * 1024);
  private final RequestValidation validation = new RequestValidation(LIMITS, PartitionLayout.of(8));

  private static ByteString bytes(int size) {
    return ByteString.copyFrom(new byte[size]);
  }

  @Test
  void keysAndValuesAtTheirLimitPassAndOneByteMoreIsRefused() {
    assertThat(validation.checkKey(bytes(16))).hasSize(16);
    validation.checkValue(bytes(64));
    assertThatThrownBy(() -> validation.checkKey(bytes(17)))
        .satisfies(e -> assertLimit(e, "key-size-bytes-max"));
    assertThatThrownBy(() -> validation.checkValue(bytes(65)))
        .satisfies(e -> assertLimit(e, "value-size-bytes-max"));
    assertThatThrownBy(() -> validation.checkKey(ByteString.EMPTY))
        .satisfies(e -> assertCode(e, Status.Code.INVALID_ARGUMENT, ErrorDetail.Reason.MALFORMED));
  }

  @Test
  void txnOpCountKeysAndPartitionsAreChecked() {
    ByteString key = ByteString.copyFromUtf8("{t}a");
    RequestOp get = RequestOp.newBuilder().setGet(GetRequest.newBuilder().setKey(key)).build();
    TxnRequest four =
        TxnRequest.newBuilder()
            .addSuccess(get)
            .addSuccess(get)
            .addFailure(get)
            .addCompare(Compare.newBuilder().setKey(key))
            .build();
    assertThat(validation.checkTxn(four))
        .isEqualTo(PartitionLayout.of(8).partitionOfKey(key.toByteArray()));
    assertThatThrownBy(() -> validation.checkTxn(four.toBuilder().addSuccess(get).build()))
        .satisfies(e -> assertLimit(e, "txn-ops-max"));
    assertThatThrownBy(() -> validation.checkTxn(TxnRequest.getDefaultInstance()))
        .satisfies(e -> assertCode(e, Status.Code.INVALID_ARGUMENT, ErrorDetail.Reason.MALFORMED));
    assertThatThrownBy(() ->
            validation.checkTxn(
                TxnRequest.newBuilder().addSuccess(RequestOp.getDefaultInstance()).build()))
        .satisfies(e -> assertCode(e, Status.Code.INVALID_ARGUMENT, ErrorDetail.Reason.MALFORMED));
    RequestOp bigPut =
        RequestOp.newBuilder()
            .setPut(PutRequest.newBuilder().setKey(key).setValue(bytes(65)))
            .build();
    assertThatThrownBy(
            () -> validation.checkTxn(TxnRequest.newBuilder().addSuccess(bigPut).build()))
        .satisfies(e -> assertLimit(e, "value-size-bytes-max"));
  }

  @Test
  void scanLimitRangeSessionAndConsistencyAreChecked() {
    assertThat(validation.scanLimit(ScanRequest.getDefaultInstance(), false)).isEqualTo(10);
    assertThat(validation.scanLimit(ScanRequest.newBuilder().setLimit(11).build(), true))
        .isEqualTo(11);
    assertThatThrownBy(
            () -> validation.scanLimit(ScanRequest.newBuilder().setLimit(11).build(), false))
        .satisfies(e -> assertLimit(e, "scan-limit-max"));
    assertThatThrownBy(
            () -> validation.scanLimit(ScanRequest.newBuilder().setLimit(-1).build(), false))
        .satisfies(e -> assertLimit(e, "scan-limit-max"));
    assertThatThrownBy(() ->
            RequestValidation.scanRange(
                ScanRequest.newBuilder().setStartKey(bytes(2)).setEndKey(bytes(1)).build()))
        .satisfies(e -> assertCode(e, Status.Code.INVALID_ARGUMENT, ErrorDetail.Reason.MALFORMED));
    assertThatThrownBy(
            () -> RequestValidation.checkSession(WriteSession.newBuilder().setSessionId(5).build()))
        .satisfies(e -> assertCode(e, Status.Code.INVALID_ARGUMENT, ErrorDetail.Reason.MALFORMED));
    assertThatThrownBy(() -> RequestValidation.linearizable(ReadConsistency.UNRECOGNIZED))
        .satisfies(e -> assertCode(e, Status.Code.INVALID_ARGUMENT, ErrorDetail.Reason.MALFORMED));
  }
}
