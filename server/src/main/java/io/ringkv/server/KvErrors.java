package io.ringkv.server;

import com.google.protobuf.Any;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.ringkv.proto.v1.ErrorDetail;

/** gRPC errors with a {@link ErrorDetail}, as the client contract describes them. */
public final class KvErrors {
  private KvErrors() {}

  public static StatusRuntimeException of(Status.Code code, String message, ErrorDetail detail) {
    return StatusProto.toStatusRuntimeException(
        com.google.rpc.Status.newBuilder()
            .setCode(code.value())
            .setMessage(message)
            .addDetails(Any.pack(detail))
            .build());
  }

  public static StatusRuntimeException limit(String limitName, long limitValue, long actual) {
    return of(
        Status.Code.INVALID_ARGUMENT,
        limitName + " is " + limitValue + ", got " + actual,
        ErrorDetail.newBuilder()
            .setReason(ErrorDetail.Reason.LIMIT_EXCEEDED)
            .setLimitName(limitName)
            .setLimitValue(limitValue)
            .build());
  }

  public static StatusRuntimeException malformed(String message) {
    return of(
        Status.Code.INVALID_ARGUMENT,
        message,
        ErrorDetail.newBuilder().setReason(ErrorDetail.Reason.MALFORMED).build());
  }

  static StatusRuntimeException overloaded(int partition, String limitName, long limit) {
    return of(
        Status.Code.RESOURCE_EXHAUSTED,
        "partition " + partition + ": " + limitName + " (" + limit + ") reached",
        ErrorDetail.newBuilder()
            .setReason(ErrorDetail.Reason.LIMIT_EXCEEDED)
            .setPartition(partition)
            .setLimitName(limitName)
            .setLimitValue(limit)
            .build());
  }

  /**
   * @param mapEpoch the answering node's cluster map epoch: a client holding an older map refreshes
   *     it instead of only moving the partition's leader
   */
  static StatusRuntimeException notLeader(
      int partition, long leaderHint, String leaderAddress, long mapEpoch) {
    return of(
        Status.Code.UNAVAILABLE,
        "not the leader of partition " + partition,
        ErrorDetail.newBuilder()
            .setReason(ErrorDetail.Reason.NOT_LEADER)
            .setPartition(partition)
            .setLeaderHint(leaderHint)
            .setLeaderAddress(leaderAddress)
            .setMapEpoch(mapEpoch)
            .build());
  }

  static StatusRuntimeException noQuorum(int partition, String message) {
    return of(
        Status.Code.UNAVAILABLE,
        message,
        ErrorDetail.newBuilder()
            .setReason(ErrorDetail.Reason.NO_QUORUM)
            .setPartition(partition)
            .build());
  }

  /** The detail of an error status, or null. */
  public static ErrorDetail detailOf(Throwable error) {
    com.google.rpc.Status status = StatusProto.fromThrowable(error);
    if (status == null) {
      return null;
    }
    for (Any any : status.getDetailsList()) {
      if (any.is(ErrorDetail.class)) {
        try {
          return any.unpack(ErrorDetail.class);
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
          return null;
        }
      }
    }
    return null;
  }
}
