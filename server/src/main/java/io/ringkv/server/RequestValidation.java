package io.ringkv.server;

import com.google.protobuf.ByteString;
import io.grpc.StatusRuntimeException;
import io.ringkv.proto.v1.Compare;
import io.ringkv.proto.v1.ReadConsistency;
import io.ringkv.proto.v1.RequestOp;
import io.ringkv.proto.v1.ScanRequest;
import io.ringkv.proto.v1.TxnRequest;
import io.ringkv.proto.v1.WriteSession;
import io.ringkv.routing.PartitionLayout;
import io.ringkv.server.config.Limits;
import io.ringkv.storage.ScanRange;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Checks a client request against the node's limits before anything is proposed or forwarded.
 *
 * <p>Pure: no I/O, no clock, no driver. Every refusal is a {@link StatusRuntimeException} with
 * INVALID_ARGUMENT and an ErrorDetail (LIMIT_EXCEEDED naming the setting, or MALFORMED), so a
 * request that would break a limit is refused here, identically on every node, rather than later
 * inside a replica where it could stop the partition.
 */
final class RequestValidation {
  /** Pairs in a Scan page when the request leaves its limit at 0. */
  static final int SCAN_PAGE_DEFAULT = 1000;

  private final Limits limits;
  private final PartitionLayout layout;

  RequestValidation(Limits limits, PartitionLayout layout) {
    this.limits = limits;
    this.layout = layout;
  }

  Limits limits() {
    return limits;
  }

  PartitionLayout layout() {
    return layout;
  }

  static boolean linearizable(ReadConsistency consistency) {
    return switch (consistency) {
      case LINEARIZABLE -> true;
      case SERIALIZABLE -> false;
      default -> throw KvErrors.malformed("unknown read consistency");
    };
  }

  byte[] checkKey(ByteString key) {
    if (key.isEmpty()) {
      throw KvErrors.malformed("key must not be empty");
    }
    if (key.size() > limits.keySizeBytesMax()) {
      throw KvErrors.limit("key-size-bytes-max", limits.keySizeBytesMax(), key.size());
    }
    return key.toByteArray();
  }

  void checkValue(ByteString value) {
    if (value.size() > limits.valueSizeBytesMax()) {
      throw KvErrors.limit("value-size-bytes-max", limits.valueSizeBytesMax(), value.size());
    }
  }

  static void checkSession(WriteSession session) {
    if (session.getSessionId() != 0 && session.getSequence() == 0) {
      throw KvErrors.malformed("a write session's sequence starts at 1");
    }
  }

  /** Validates a Txn and returns the one partition all its keys live in. */
  int checkTxn(TxnRequest request) {
    long ops =
        (long) request.getCompareCount() + request.getSuccessCount() + request.getFailureCount();
    if (ops > limits.txnOpsMax()) {
      throw KvErrors.limit("txn-ops-max", limits.txnOpsMax(), ops);
    }
    List<byte[]> keys = new ArrayList<>();
    for (Compare compare : request.getCompareList()) {
      keys.add(checkKey(compare.getKey()));
      if (compare.getTarget() == Compare.Target.UNRECOGNIZED
          || compare.getResult() == Compare.Result.UNRECOGNIZED) {
        throw KvErrors.malformed("unknown compare target or result");
      }
      if (compare.getTarget() == Compare.Target.VALUE) {
        checkValue(compare.getValue());
      }
    }
    for (List<RequestOp> branch : List.of(request.getSuccessList(), request.getFailureList())) {
      for (RequestOp op : branch) {
        switch (op.getOpCase()) {
          case GET -> keys.add(checkKey(op.getGet().getKey()));
          case PUT -> {
            keys.add(checkKey(op.getPut().getKey()));
            checkValue(op.getPut().getValue());
          }
          case DELETE -> keys.add(checkKey(op.getDelete().getKey()));
          case OP_NOT_SET -> throw KvErrors.malformed("txn op without an operation");
        }
      }
    }
    if (keys.isEmpty()) {
      throw KvErrors.malformed("txn names no key");
    }
    int partition = layout.partitionOfKey(keys.getFirst());
    for (byte[] key : keys) {
      if (layout.partitionOfKey(key) != partition) {
        throw KvErrors.malformed(
            "txn keys live in more than one partition; use a {hash tag} to co-locate them");
      }
    }
    return partition;
  }

  /**
   * The page size of a Scan: the request's limit, or the default page when it is 0.
   *
   * @param forwardedPage a per-partition page forwarded by another node, which asks for one more
   *     than the client's page
   */
  int scanLimit(ScanRequest request, boolean forwardedPage) {
    if (request.getLimit() == 0) {
      return Math.min(SCAN_PAGE_DEFAULT, limits.scanLimitMax());
    }
    long allowed = (long) limits.scanLimitMax() + (forwardedPage ? 1 : 0);
    if (Integer.toUnsignedLong(request.getLimit()) > allowed) {
      throw KvErrors.limit(
          "scan-limit-max", limits.scanLimitMax(), Integer.toUnsignedLong(request.getLimit()));
    }
    return request.getLimit();
  }

  static ScanRange scanRange(ScanRequest request) {
    if (!request.getPrefix().isEmpty()) {
      if (!request.getStartKey().isEmpty() || !request.getEndKey().isEmpty()) {
        throw KvErrors.malformed("give either prefix or start_key/end_key, not both");
      }
      return ScanRange.prefix(request.getPrefix().toByteArray());
    }
    byte[] start = request.getStartKey().toByteArray();
    if (request.getEndKey().isEmpty()) {
      return ScanRange.between(start, null);
    }
    byte[] end = request.getEndKey().toByteArray();
    if (Arrays.compareUnsigned(start, end) >= 0) {
      throw KvErrors.malformed("start_key must be below end_key");
    }
    return ScanRange.between(start, end);
  }
}
