package io.ringkv.server.raft;

import io.grpc.Status;
import io.ringkv.proto.internal.CommandError;
import io.ringkv.proto.internal.CommandResult;
import io.ringkv.proto.v1.ErrorDetail;
import io.ringkv.proto.v1.WriteSession;
import io.ringkv.storage.SessionRecord;

/**
 * The deterministic refusals of the partition state machine, as command results: each becomes the
 * same gRPC status with an ErrorDetail on whichever node answers the client.
 */
final class CommandErrors {
  private CommandErrors() {}

  static CommandResult sessionExpired(
      WriteSession session, SessionRecord record, long expiryMillis) {
    boolean repeated = session.getSequence() <= record.lastSequence();
    return error(
        Status.Code.FAILED_PRECONDITION,
        "session "
            + Long.toUnsignedString(session.getSessionId())
            + " expired (idle over session-expiry-millis = "
            + expiryMillis
            + "); nothing was applied"
            + (repeated
                ? ", but an earlier attempt of this write may have been"
                : "; start a new session for this write"),
        ErrorDetail.Reason.SESSION_EXPIRED);
  }

  static CommandResult responseTooLarge(long responseSizeBytesMax) {
    return CommandResult.newBuilder()
        .setError(
            CommandError.newBuilder()
                .setGrpcCode(Status.Code.INVALID_ARGUMENT.value())
                .setMessage(
                    "response-size-bytes-max is "
                        + responseSizeBytesMax
                        + ": the Txn's answer would be larger; nothing was applied (read fewer or"
                        + " smaller values per Txn)")
                .setReason(ErrorDetail.Reason.LIMIT_EXCEEDED.getNumber())
                .setLimitName("response-size-bytes-max")
                .setLimitValue(responseSizeBytesMax))
        .build();
  }

  static CommandResult error(Status.Code code, String message, ErrorDetail.Reason reason) {
    return CommandResult.newBuilder()
        .setError(
            CommandError.newBuilder()
                .setGrpcCode(code.value())
                .setMessage(message)
                .setReason(reason.getNumber()))
        .build();
  }
}
