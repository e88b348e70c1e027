package io.ringkv.client;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Any;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.ringkv.proto.v1.ErrorDetail;
import java.net.ConnectException;
import org.junit.jupiter.api.Test;

/**
 * Proves the mapping from real gRPC statuses carrying an {@link ErrorDetail} (packed as the server
 * packs it, with StatusProto) to retry decisions and to the exception a caller sees, in particular
 * that a write which may have been sent ends as {@link OutcomeUnknownException}.
 */
class CallFailureTest {
  private static final String ADDRESS = "127.0.0.11:7379";

  private static StatusRuntimeException withDetail(Status.Code code, ErrorDetail detail) {
    return StatusProto.toStatusRuntimeException(
        com.google.rpc.Status.newBuilder()
            .setCode(code.value())
            .setMessage("from the test")
            .addDetails(Any.pack(detail))
            .build());
  }

  @Test
  void notLeaderCarriesTheHint() {
    CallFailure failure =
        CallFailure.classify(
            withDetail(
                Status.Code.UNAVAILABLE,
                ErrorDetail.newBuilder()
                    .setReason(ErrorDetail.Reason.NOT_LEADER)
                    .setPartition(5)
                    .setLeaderHint(2)
                    .setLeaderAddress("127.0.0.12:7379")
                    .setMapEpoch(9)
                    .build()),
            ADDRESS);
    assertThat(failure.kind()).isEqualTo(CallFailure.Kind.NOT_LEADER);
    assertThat(failure.kind().retryable).isTrue();
    assertThat(failure.kind().writeMayHaveApplied).isFalse();
    assertThat(failure.detail().getLeaderAddress()).isEqualTo("127.0.0.12:7379");
    assertThat(failure.detail().getMapEpoch()).isEqualTo(9);
  }

  @Test
  void anExpiredSessionIsOutcomeUnknownAfterAnAttemptThatMayHaveAppliedOtherwiseAFreshStart() {
    CallFailure failure =
        CallFailure.classify(
            withDetail(
                Status.Code.FAILED_PRECONDITION,
                ErrorDetail.newBuilder().setReason(ErrorDetail.Reason.SESSION_EXPIRED).build()),
            ADDRESS);
    assertThat(failure.kind()).isEqualTo(CallFailure.Kind.SESSION_EXPIRED);
    assertThat(failure.kind().retryable).isFalse();
    assertThat(failure.toException(true, true, false, "put of key 'k'"))
        .isInstanceOf(OutcomeUnknownException.class);
    assertThat(failure.toException(true, false, false, "put of key 'k'"))
        .isInstanceOf(SessionExpiredException.class);
  }

  @Test
  void limitExceededBecomesInvalidRequestWithTheLimitName() {
    CallFailure failure =
        CallFailure.classify(
            withDetail(
                Status.Code.INVALID_ARGUMENT,
                ErrorDetail.newBuilder()
                    .setReason(ErrorDetail.Reason.LIMIT_EXCEEDED)
                    .setLimitName("value-size-bytes-max")
                    .setLimitValue(1 << 20)
                    .build()),
            ADDRESS);
    assertThat(failure.kind().retryable).isFalse();
    RingKvException exception = failure.toException(true, false, false, "put of key 'k'");
    assertThat(exception).isInstanceOf(InvalidRequestException.class);
    InvalidRequestException invalid = (InvalidRequestException) exception;
    assertThat(invalid.limitName()).contains("value-size-bytes-max");
    assertThat(invalid.limitValue()).isEqualTo(1 << 20);
    assertThat(invalid.getMessage()).contains("put of key 'k'").contains("from the test");
  }

  @Test
  void noQuorumIsRetryableAndMayHaveApplied() {
    CallFailure failure =
        CallFailure.classify(
            withDetail(
                Status.Code.UNAVAILABLE,
                ErrorDetail.newBuilder().setReason(ErrorDetail.Reason.NO_QUORUM).build()),
            ADDRESS);
    assertThat(failure.kind()).isEqualTo(CallFailure.Kind.UNAVAILABLE);
    assertThat(failure.toException(true, false, true, "put"))
        .isInstanceOf(OutcomeUnknownException.class);
    assertThat(failure.toException(false, false, true, "get"))
        .isInstanceOf(UnavailableException.class);
  }

  @Test
  void connectionRefusedMeansNeverSent() {
    StatusRuntimeException refused =
        Status.UNAVAILABLE
            .withDescription("io exception")
            .withCause(new ConnectException("Connection refused"))
            .asRuntimeException();
    CallFailure failure = CallFailure.classify(refused, ADDRESS);
    assertThat(failure.kind()).isEqualTo(CallFailure.Kind.UNREACHABLE);
    RingKvException exception = failure.toException(true, false, true, "put");
    assertThat(exception).isInstanceOf(UnavailableException.class);
    assertThat(exception.getMessage()).contains("no node reachable at " + ADDRESS);
    // ... unless an earlier attempt of the same write may have reached a node.
    assertThat(failure.toException(true, true, true, "put"))
        .isInstanceOf(OutcomeUnknownException.class);
  }

  @Test
  void timeoutsSplitReadsFromWrites() {
    CallFailure failure =
        CallFailure.classify(Status.DEADLINE_EXCEEDED.asRuntimeException(), ADDRESS);
    assertThat(failure.toException(false, false, true, "get"))
        .isInstanceOf(DeadlineExceededException.class);
    assertThat(failure.toException(true, false, true, "put"))
        .isInstanceOf(OutcomeUnknownException.class);
  }

  @Test
  void finalCodesAreNotRetried() {
    assertThat(
            CallFailure.classify(Status.FAILED_PRECONDITION.asRuntimeException(), ADDRESS)
                .toException(true, false, false, "put"))
        .isInstanceOf(RejectedException.class);
    assertThat(
            CallFailure.classify(Status.UNIMPLEMENTED.asRuntimeException(), ADDRESS)
                .toException(false, false, false, "get"))
        .isInstanceOf(UnsupportedByServerException.class);
    CallFailure internal = CallFailure.classify(Status.INTERNAL.asRuntimeException(), ADDRESS);
    assertThat(internal.kind().retryable).isFalse();
    assertThat(internal.toException(false, false, false, "get"))
        .isInstanceOf(ServerErrorException.class);
    assertThat(internal.toException(true, false, false, "put"))
        .isInstanceOf(OutcomeUnknownException.class);
    CallFailure overloaded =
        CallFailure.classify(Status.RESOURCE_EXHAUSTED.asRuntimeException(), ADDRESS);
    assertThat(overloaded.kind().retryable).isTrue();
    assertThat(overloaded.toException(true, false, true, "put"))
        .isInstanceOf(ResourceExhaustedException.class);
  }
}
