package io.ringkv.server;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;

/**
 * Marks calls one node forwards to another. A forwarded call is served locally or answered with
 * NOT_LEADER, never forwarded again, so a stale view can never bounce a request between nodes. A
 * Scan forwarded for one partition also names that partition.
 */
public final class ForwardingHeaders implements ServerInterceptor {
  public static final Metadata.Key<String> FORWARDED =
      Metadata.Key.of("ringkv-forwarded-by", Metadata.ASCII_STRING_MARSHALLER);
  static final Metadata.Key<String> SCAN_PARTITION =
      Metadata.Key.of("ringkv-scan-partition", Metadata.ASCII_STRING_MARSHALLER);
  static final Context.Key<Boolean> FORWARDED_CALL = Context.key("ringkv-forwarded");
  static final Context.Key<Integer> SCAN_PARTITION_CALL = Context.key("ringkv-scan-partition");

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    Context context = Context.current();
    if (headers.containsKey(FORWARDED)) {
      context = context.withValue(FORWARDED_CALL, true);
    }
    String partition = headers.get(SCAN_PARTITION);
    if (partition != null) {
      try {
        context = context.withValue(SCAN_PARTITION_CALL, Integer.parseInt(partition));
      } catch (NumberFormatException e) {
        context = context.withValue(SCAN_PARTITION_CALL, -1);
      }
    }
    return Contexts.interceptCall(context, call, headers, next);
  }

  public static boolean isForwarded() {
    return Boolean.TRUE.equals(FORWARDED_CALL.get());
  }

  static Integer scanPartition() {
    return SCAN_PARTITION_CALL.get();
  }
}
