package io.ringkv.server;

import io.grpc.StatusRuntimeException;
import io.ringkv.proto.internal.NodeScanGrpc;
import io.ringkv.proto.internal.NodeScanRequest;
import io.ringkv.proto.internal.ReplicaAdminGrpc;
import io.ringkv.proto.v1.AuthGrpc;
import io.ringkv.proto.v1.ClusterGrpc;
import io.ringkv.proto.v1.Compare;
import io.ringkv.proto.v1.DeleteRequest;
import io.ringkv.proto.v1.GetRequest;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.proto.v1.RequestOp;
import io.ringkv.proto.v1.ScanRequest;
import io.ringkv.proto.v1.TxnRequest;
import io.ringkv.proto.v1.WatchGrpc;
import io.ringkv.proto.v1.WatchRequest;
import io.ringkv.server.auth.Principal;
import io.ringkv.storage.ScanRange;
import java.util.List;
import java.util.Map;

/**
 * What each method needs of its caller once auth is on. Keys are checked one by one (Get, Put,
 * Delete, every compare and op of a Txn); a range (Scan, NodeScan, Watch) must be readable as a
 * whole, so a scan that crosses into a prefix the user may not read is refused rather than cut.
 * Cluster changes, replica operations and auth management need the admin role; reading the
 * cluster's shape (which the client's routing needs) needs only a caller. A method not listed needs
 * admin, so a service added later is closed until someone opens it here.
 */
final class AccessRules {
  /** A check of one request: null when allowed, else what was refused ("write key 'x'"). */
  interface Rule {
    String denied(Principal principal, Object request);
  }

  /** No caller needed (joining nodes fetch the map before they can hold any credential). */
  static final Rule OPEN = (principal, request) -> null;

  static final Rule AUTHENTICATED = (principal, request) -> null;

  static final Rule ADMIN =
      (principal, request) -> principal.admin() ? null : "call this without the admin role";

  private static final Map<String, Rule> RULES =
      Map.ofEntries(
          Map.entry(
              KVGrpc.getGetMethod().getFullMethodName(),
              (p, r) -> read(p, ((GetRequest) r).getKey().toByteArray())),
          Map.entry(
              KVGrpc.getPutMethod().getFullMethodName(),
              (p, r) -> write(p, ((PutRequest) r).getKey().toByteArray())),
          Map.entry(
              KVGrpc.getDeleteMethod().getFullMethodName(),
              (p, r) -> write(p, ((DeleteRequest) r).getKey().toByteArray())),
          Map.entry(KVGrpc.getTxnMethod().getFullMethodName(), (p, r) -> txn(p, (TxnRequest) r)),
          Map.entry(KVGrpc.getScanMethod().getFullMethodName(), (p, r) -> scan(p, (ScanRequest) r)),
          Map.entry(
              NodeScanGrpc.getScanPartitionsMethod().getFullMethodName(),
              (p, r) -> scan(p, ((NodeScanRequest) r).getPage())),
          Map.entry(
              WatchGrpc.getWatchMethod().getFullMethodName(), (p, r) -> watch(p, (WatchRequest) r)),
          Map.entry(WatchGrpc.getRequestProgressMethod().getFullMethodName(), AUTHENTICATED),
          Map.entry(ClusterGrpc.getStatusMethod().getFullMethodName(), AUTHENTICATED),
          Map.entry(ClusterGrpc.getMembersMethod().getFullMethodName(), AUTHENTICATED),
          Map.entry(ClusterGrpc.getPartitionsMethod().getFullMethodName(), AUTHENTICATED),
          Map.entry(AuthGrpc.getStatusMethod().getFullMethodName(), AUTHENTICATED),
          Map.entry(ReplicaAdminGrpc.getGetClusterMapMethod().getFullMethodName(), OPEN));

  private AccessRules() {}

  static Rule of(String fullMethodName) {
    return RULES.getOrDefault(fullMethodName, ADMIN);
  }

  private static String read(Principal principal, byte[] key) {
    return principal.canRead(key) ? null : "read key '" + printable(key) + "'";
  }

  private static String write(Principal principal, byte[] key) {
    return principal.canWrite(key) ? null : "write key '" + printable(key) + "'";
  }

  private static String txn(Principal principal, TxnRequest txn) {
    for (Compare compare : txn.getCompareList()) {
      String denied = read(principal, compare.getKey().toByteArray());
      if (denied != null) {
        return denied;
      }
    }
    for (List<RequestOp> ops : List.of(txn.getSuccessList(), txn.getFailureList())) {
      for (RequestOp op : ops) {
        String denied =
            switch (op.getOpCase()) {
              case GET -> read(principal, op.getGet().getKey().toByteArray());
              case PUT -> write(principal, op.getPut().getKey().toByteArray());
              case DELETE -> write(principal, op.getDelete().getKey().toByteArray());
              case OP_NOT_SET -> null;
            };
        if (denied != null) {
          return denied;
        }
      }
    }
    return null;
  }

  private static String scan(Principal principal, ScanRequest scan) {
    ScanRange range;
    try {
      range = RequestValidation.scanRange(scan);
    } catch (StatusRuntimeException malformed) {
      return null; // the service refuses it as malformed before it reads anything
    }
    return range(principal, range);
  }

  private static String watch(Principal principal, WatchRequest watch) {
    return switch (watch.getSelectorCase()) {
      case KEY -> read(principal, watch.getKey().toByteArray());
      case PREFIX -> range(principal, ScanRange.prefix(watch.getPrefix().toByteArray()));
      case ALL, SELECTOR_NOT_SET -> range(principal, ScanRange.prefix(new byte[0]));
    };
  }

  private static String range(Principal principal, ScanRange range) {
    if (principal.canRead(range)) {
      return null;
    }
    return "read all of the range ['"
        + printable(range.start())
        + "', "
        + (range.end() == null ? "end of keys" : "'" + printable(range.end()) + "'")
        + ")";
  }

  /** A key for a message: UTF-8 text when it is, else hex; cut at 64 characters. */
  private static String printable(byte[] key) {
    String text = new String(key, java.nio.charset.StandardCharsets.UTF_8);
    boolean plain = text.chars().allMatch(c -> c >= 0x20 && c < 0x7f);
    if (!plain) {
      text = java.util.HexFormat.of().formatHex(key);
    }
    return text.length() > 64 ? text.substring(0, 64) + "..." : text;
  }
}
