package io.ringkv.server;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;

/**
 * Marks calls one node forwards to another. A forwarded call is served locally or answered with
 * NOT_LEADER, never forwarded again, so a stale view can never bounce a request between nodes. A
 * Scan forwarded for one partition also names that partition.
 *
 * <p>Membership and auth commands go to the meta leader. A node without a meta replica knows no
 * leader, only the meta voters, so its first guess may be a follower; that follower refuses with
 * the leader it knows in the trailer {@link #META_LEADER}, and the forwarding node (not the
 * follower) tries that node next, at most {@link #META_FORWARD_TRIES_MAX} nodes in all.
 */
public final class ForwardingHeaders implements ServerInterceptor {
  public static final Metadata.Key<String> FORWARDED =
      Metadata.Key.of("ringkv-forwarded-by", Metadata.ASCII_STRING_MARSHALLER);
  static final Metadata.Key<String> SCAN_PARTITION =
      Metadata.Key.of("ringkv-scan-partition", Metadata.ASCII_STRING_MARSHALLER);

  /** Trailer of a refused forwarded meta command: the meta leader the refusing node knows. */
  public static final Metadata.Key<String> META_LEADER =
      Metadata.Key.of("ringkv-meta-leader", Metadata.ASCII_STRING_MARSHALLER);

  /** Nodes one membership or auth command is forwarded to, the first guess included. */
  public static final int META_FORWARD_TRIES_MAX = 3;

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

  /**
   * The refusal of a meta command by {@code selfNodeId}, which does not lead the meta group; it
   * names {@code leaderHint} (0: none known) in the description and the {@link #META_LEADER}
   * trailer.
   */
  public static StatusRuntimeException notMetaLeader(long selfNodeId, long leaderHint) {
    boolean known = leaderHint != 0 && leaderHint != selfNodeId;
    Metadata trailers = new Metadata();
    if (known) {
      trailers.put(META_LEADER, Long.toString(leaderHint));
    }
    return Status.UNAVAILABLE
        .withDescription(
            "node "
                + selfNodeId
                + " does not lead the meta group"
                + (known ? "; try node " + leaderHint : " and knows no leader"))
        .asRuntimeException(trailers);
  }

  /**
   * The node a meta command refused by {@code target} with {@code error} goes to next, or 0 to give
   * up: when {@code triesLeft} is used up, the refusal names no leader, or it names the node just
   * tried or this node itself.
   */
  public static long nextMetaHop(Throwable error, long target, long selfNodeId, int triesLeft) {
    long next = metaLeaderOf(error);
    return triesLeft <= 0 || next == target || next == selfNodeId ? 0 : next;
  }

  /**
   * The meta leader named by a {@link #notMetaLeader} refusal in {@code error} (or its cause), 0
   * for any other error.
   */
  public static long metaLeaderOf(Throwable error) {
    for (Throwable cause = error; cause != null; cause = cause.getCause()) {
      if (cause instanceof StatusRuntimeException refused
          && refused.getStatus().getCode() == Status.Code.UNAVAILABLE
          && refused.getTrailers() != null) {
        String hint = refused.getTrailers().get(META_LEADER);
        if (hint == null) {
          return 0;
        }
        try {
          return Long.parseLong(hint);
        } catch (NumberFormatException e) {
          return 0;
        }
      }
    }
    return 0;
  }
}
