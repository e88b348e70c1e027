package io.ringkv.server.auth;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.Context;
import io.grpc.ForwardingClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import java.util.function.Supplier;

/**
 * The credentials that travel in call metadata, and the client interceptors that put them on
 * node-to-node calls.
 *
 * <p>A node that forwards a client's call (to a partition leader, a scan share, a membership or
 * auth command to the meta leader) passes the caller's own {@code authorization} on, and the
 * receiver checks it again: a forwarded call can do no more than the caller could. Calls a node
 * makes on its own behalf (replica moves, map pushes) carry the nodes' token, which only meta
 * replicas hold.
 */
public final class CallerCredentials {
  public static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  public static final Metadata.Key<String> NODE_TOKEN =
      Metadata.Key.of("ringkv-node-token", Metadata.ASCII_STRING_MARSHALLER);

  /** The credential header the served call was let in with, set by the gate while auth is on. */
  private static final Context.Key<Metadata> CALLER = Context.key("ringkv-caller-credentials");

  private CallerCredentials() {}

  /**
   * The context of a call let in with {@code headers}' credential: its {@code authorization}, else
   * its nodes' token, is kept to be passed on.
   */
  public static Context withCaller(Context context, Metadata headers) {
    String authorization = headers.get(AUTHORIZATION);
    Metadata kept =
        authorization != null
            ? header(AUTHORIZATION, authorization)
            : header(NODE_TOKEN, headers.get(NODE_TOKEN));
    return kept == null ? context : context.withValue(CALLER, kept);
  }

  /** Puts the served call's credential on each outgoing call made while serving it. */
  public static ClientInterceptor passCallerOn() {
    return adding(CALLER::get);
  }

  /**
   * For channels a node uses both while serving a caller and on its own behalf: the served call's
   * credential when there is one, else the nodes' token when this node holds it.
   */
  public static ClientInterceptor callerOrNode(AuthView view) {
    return adding(() -> {
      Metadata caller = CALLER.get();
      return caller != null ? caller : header(NODE_TOKEN, view.nodeToken().orElse(null));
    });
  }

  private static Metadata header(Metadata.Key<String> key, String value) {
    if (value == null) {
      return null;
    }
    Metadata headers = new Metadata();
    headers.put(key, value);
    return headers;
  }

  /** Merges the headers {@code extra} gives at call time into each call (none when null). */
  private static ClientInterceptor adding(Supplier<Metadata> extra) {
    return new ClientInterceptor() {
      @Override
      public <Q, R> ClientCall<Q, R> interceptCall(
          MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
        Metadata headers = extra.get();
        ClientCall<Q, R> call = next.newCall(method, options);
        if (headers == null) {
          return call;
        }
        return new ForwardingClientCall.SimpleForwardingClientCall<>(call) {
          @Override
          public void start(Listener<R> listener, Metadata outgoing) {
            outgoing.merge(headers);
            super.start(listener, outgoing);
          }
        };
      }
    };
  }
}
