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
 * receiver checks it again: a forwarded call can do no more than the caller could. A caller known
 * by its client certificate is passed on by name ({@link #ON_BEHALF_OF}), which the receiver takes
 * only from a node's certificate. Calls a node makes on its own behalf (replica moves, map pushes)
 * carry the nodes' token, which only meta replicas hold.
 */
public final class CallerCredentials {
  public static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  public static final Metadata.Key<String> NODE_TOKEN =
      Metadata.Key.of("ringkv-node-token", Metadata.ASCII_STRING_MARSHALLER);

  /**
   * The user a node forwards a call for when that user was known by its client certificate, which
   * cannot travel: honoured only on a call whose TLS peer is a node certificate of the cluster CA.
   */
  public static final Metadata.Key<String> ON_BEHALF_OF =
      Metadata.Key.of("ringkv-on-behalf-of", Metadata.ASCII_STRING_MARSHALLER);

  /** The credential header the served call was let in with, set by the gate while auth is on. */
  private static final Context.Key<Metadata> CALLER = Context.key("ringkv-caller-credentials");

  private CallerCredentials() {}

  /**
   * The context of a call let in with {@code headers}' credential, kept to be passed on: its {@code
   * authorization}, else its nodes' token, else the name of the user it was let in as by a client
   * certificate ({@code certificateUser}, here or at the node that forwarded it).
   */
  public static Context withCaller(Context context, Metadata headers, String certificateUser) {
    String authorization = headers.get(AUTHORIZATION);
    String nodeToken = headers.get(NODE_TOKEN);
    Metadata kept;
    if (authorization != null) {
      kept = header(AUTHORIZATION, authorization);
    } else if (nodeToken != null) {
      kept = header(NODE_TOKEN, nodeToken);
    } else {
      kept = header(ON_BEHALF_OF, certificateUser);
    }
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
