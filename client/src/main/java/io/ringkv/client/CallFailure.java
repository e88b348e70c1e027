package io.ringkv.client;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.ringkv.proto.v1.ErrorDetail;
import java.net.ConnectException;
import java.nio.channels.UnresolvedAddressException;

/**
 * One failed attempt, classified: may it be retried, may a write have been applied by it, and
 * should the routing map be refreshed. Built from the gRPC status and the {@link ErrorDetail} a
 * node packs into the status details.
 */
record CallFailure(Kind kind, Status status, ErrorDetail detail, String address) {

  enum Kind {
    /** The node does not lead the partition (and did not forward): go to the hinted leader. */
    NOT_LEADER(true, false),
    /** The attempt never reached a node (connection refused, unknown host). */
    UNREACHABLE(true, false),
    /** The node is up but cannot serve now (no quorum, shutting down, connection lost midway). */
    UNAVAILABLE(true, true),
    /** This attempt's timeout passed; the node may have applied a write. */
    ATTEMPT_TIMEOUT(true, true),
    /** Overloaded: the node refused before proposing. */
    RESOURCE_EXHAUSTED(true, false),
    INVALID_REQUEST(false, false),
    /** The write's session expired on the server; this attempt applied nothing. */
    SESSION_EXPIRED(false, false),
    REJECTED(false, false),
    UNSUPPORTED(false, false),
    SERVER_ERROR(false, true),
    CANCELLED(false, true);

    final boolean retryable;
    final boolean writeMayHaveApplied;

    Kind(boolean retryable, boolean writeMayHaveApplied) {
      this.retryable = retryable;
      this.writeMayHaveApplied = writeMayHaveApplied;
    }
  }

  static CallFailure classify(Throwable error, String address) {
    Status status = Status.fromThrowable(error);
    ErrorDetail detail = detailOf(error);
    return new CallFailure(kindOf(status, detail), status, detail, address);
  }

  private static Kind kindOf(Status status, ErrorDetail detail) {
    return switch (status.getCode()) {
      case UNAVAILABLE -> {
        if (detail.getReason() == ErrorDetail.Reason.NOT_LEADER) {
          yield Kind.NOT_LEADER;
        }
        yield neverConnected(status.getCause()) ? Kind.UNREACHABLE : Kind.UNAVAILABLE;
      }
      case DEADLINE_EXCEEDED -> Kind.ATTEMPT_TIMEOUT;
      case RESOURCE_EXHAUSTED -> Kind.RESOURCE_EXHAUSTED;
      case INVALID_ARGUMENT, OUT_OF_RANGE -> Kind.INVALID_REQUEST;
      case FAILED_PRECONDITION, ALREADY_EXISTS, NOT_FOUND, PERMISSION_DENIED, UNAUTHENTICATED ->
          detail.getReason() == ErrorDetail.Reason.SESSION_EXPIRED
              ? Kind.SESSION_EXPIRED
              : Kind.REJECTED;
      case UNIMPLEMENTED -> Kind.UNSUPPORTED;
      case CANCELLED -> Kind.CANCELLED;
      // ABORTED: the node gave up on the proposal (leader change); safe to retry with the session.
      case ABORTED -> Kind.UNAVAILABLE;
      default -> Kind.SERVER_ERROR;
    };
  }

  private static boolean neverConnected(Throwable cause) {
    for (Throwable t = cause; t != null; t = t.getCause()) {
      if (t instanceof ConnectException || t instanceof UnresolvedAddressException) {
        return true;
      }
    }
    return false;
  }

  private static ErrorDetail detailOf(Throwable error) {
    com.google.rpc.Status rpcStatus = StatusProto.fromThrowable(error);
    if (rpcStatus == null) {
      return ErrorDetail.getDefaultInstance();
    }
    for (Any any : rpcStatus.getDetailsList()) {
      if (any.is(ErrorDetail.class)) {
        try {
          return any.unpack(ErrorDetail.class);
        } catch (InvalidProtocolBufferException e) {
          return ErrorDetail.getDefaultInstance();
        }
      }
    }
    return ErrorDetail.getDefaultInstance();
  }

  static boolean isGrpcError(Throwable error) {
    return error instanceof StatusRuntimeException || error instanceof StatusException;
  }

  /** The server's words, or the gRPC code when it gave none. */
  String describe() {
    String description = status.getDescription();
    String what =
        description == null || description.isEmpty() ? status.getCode().name() : description;
    return what + " (from " + address + ")";
  }

  /**
   * The exception a caller sees when the call ends on this failure.
   *
   * @param write whether the call is a write
   * @param writeMaybeApplied whether any attempt of this write may have reached a node
   * @param deadlinePassed whether the call's deadline is why it ends
   * @param operation a short description for messages, e.g. "put of key 'k'"
   */
  RingKvException toException(
      boolean write, boolean writeMaybeApplied, boolean deadlinePassed, String operation) {
    Throwable cause = status.asRuntimeException();
    if (!kind.retryable && !deadlinePassed) {
      return switch (kind) {
        case INVALID_REQUEST ->
            new InvalidRequestException(
                operation + " is invalid: " + describe(),
                detail.getLimitName(),
                detail.getLimitValue(),
                cause);
        case REJECTED ->
            new RejectedException(
                operation
                    + " was rejected: "
                    + describe()
                    + (write && writeMaybeApplied
                        ? "; an earlier attempt of it may have been applied (its answer was lost)"
                        : ""),
                cause);
        case SESSION_EXPIRED ->
            writeMaybeApplied
                ? new OutcomeUnknownException(
                    operation
                        + " may or may not have been applied: an earlier attempt may have, and"
                        + " its session has since expired: "
                        + describe(),
                    cause)
                : new SessionExpiredException(
                    operation + " was refused, its session expired: " + describe(), cause);
        case UNSUPPORTED ->
            new UnsupportedByServerException(
                operation + " is not supported by the node: " + describe(), cause);
        case SERVER_ERROR, CANCELLED ->
            write
                ? new OutcomeUnknownException(
                    operation + " may or may not have been applied: " + describe(), cause)
                : new ServerErrorException(operation + " failed: " + describe(), cause);
        default -> throw new IllegalStateException("retryable kind " + kind + " treated as final");
      };
    }
    if (write && (writeMaybeApplied || kind.writeMayHaveApplied)) {
      return new OutcomeUnknownException(
          operation
              + " may or may not have been applied: deadline passed after it was sent; last error: "
              + describe(),
          cause);
    }
    return switch (kind) {
      case UNREACHABLE ->
          new UnavailableException(operation + " failed: no node reachable at " + address, cause);
      case RESOURCE_EXHAUSTED ->
          new ResourceExhaustedException(
              operation + " failed, cluster overloaded: " + describe(), cause);
      case ATTEMPT_TIMEOUT ->
          new DeadlineExceededException(
              operation + " failed: deadline exceeded; " + describe(), cause);
      default -> new UnavailableException(operation + " failed: " + describe(), cause);
    };
  }
}
