package io.ringkv.server;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.ringkv.server.auth.AuthView;
import io.ringkv.server.auth.CallerCredentials;
import io.ringkv.server.auth.CertificateNames;
import io.ringkv.server.auth.Principal;
import io.ringkv.server.auth.UserRateLimiter;
import io.ringkv.server.tls.NodeTls;
import java.security.cert.X509Certificate;
import java.util.Locale;
import java.util.Optional;
import javax.net.ssl.SSLSession;

/**
 * Who may call what, once auth is on: applied to every service but health, reflection and the auth
 * record's sync between nodes. While auth is off it costs two volatile reads per call. Until the
 * node has read the auth state from a meta replica (its own, or a voter's, asked before it serves)
 * it cannot tell "off" from "not learned yet", and refuses every call but the open ones with
 * UNAVAILABLE rather than serve them as if auth were off.
 *
 * <p>Per call: find the caller (a bearer token, else the nodes' token, else the user a node
 * forwards for, else the CN of a verified client certificate), refuse UNAUTHENTICATED without one;
 * take a token of the user's rate bucket, refuse RESOURCE_EXHAUSTED with a {@code
 * retry-after-millis} trailer without one; then, when the request arrives, check it against the
 * user's grants ({@link AccessRules}) and refuse PERMISSION_DENIED, before the service sees it.
 * Each refusal is counted by reason.
 */
final class AuthGate implements ServerInterceptor {
  /** Trailer of a rate-limited call: milliseconds until the user's next request is allowed. */
  static final Metadata.Key<String> RETRY_AFTER_MILLIS =
      Metadata.Key.of("retry-after-millis", Metadata.ASCII_STRING_MARSHALLER);

  private static final String BEARER = "bearer ";

  private final AuthView view;
  private final UserRateLimiter rateLimiter;
  private final Counter unauthenticated;
  private final Counter permissionDenied;
  private final Counter rateLimited;
  private final Counter authStateUnknown;

  AuthGate(AuthView view, UserRateLimiter rateLimiter, MeterRegistry registry) {
    this.view = view;
    this.rateLimiter = rateLimiter;
    this.unauthenticated = refusals(registry, "unauthenticated");
    this.permissionDenied = refusals(registry, "permission_denied");
    this.rateLimited = refusals(registry, "rate_limited");
    this.authStateUnknown = refusals(registry, "auth_state_unknown");
  }

  private static Counter refusals(MeterRegistry registry, String reason) {
    return Counter.builder("ringkv.auth.refused")
        .description("calls refused by authentication, authorization or the per-user rate")
        .tag("reason", reason)
        .register(registry);
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    if (view.enabled()) {
      return checked(call, headers, next);
    }
    if (view.known()
        || AccessRules.of(call.getMethodDescriptor().getFullMethodName()) == AccessRules.OPEN) {
      return next.startCall(call, headers);
    }
    authStateUnknown.increment();
    return refuse(
        call,
        Status.UNAVAILABLE.withDescription(
            "this node has not yet learned the cluster's auth settings from a meta replica; retry"),
        new Metadata());
  }

  private <Q, R> ServerCall.Listener<Q> checked(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    AccessRules.Rule rule = AccessRules.of(call.getMethodDescriptor().getFullMethodName());
    if (rule == AccessRules.OPEN) {
      return next.startCall(call, headers);
    }
    String authorization = headers.get(CallerCredentials.AUTHORIZATION);
    Optional<Principal> principal = authenticate(call, headers, authorization);
    if (principal.isEmpty()) {
      unauthenticated.increment();
      return refuse(
          call,
          Status.UNAUTHENTICATED.withDescription(
              authorization == null
                  ? "auth is on: send `authorization: Bearer <token>` or a client certificate"
                  : "the token is not valid"),
          new Metadata());
    }
    if (principal.get().rateLimited()) {
      UserRateLimiter.Decision decision = rateLimiter.acquire(principal.get().name());
      if (!decision.allowed()) {
        rateLimited.increment();
        Metadata trailers = new Metadata();
        trailers.put(RETRY_AFTER_MILLIS, Long.toString(decision.retryAfterMillis()));
        return refuse(
            call,
            Status.RESOURCE_EXHAUSTED.withDescription(
                "user '"
                    + principal.get().name()
                    + "' is above auth-user-requests-per-second-max; retry after "
                    + decision.retryAfterMillis()
                    + " ms"),
            trailers);
      }
    }
    String certificateUser =
        authorization == null && headers.get(CallerCredentials.NODE_TOKEN) == null
            ? principal.get().name()
            : null;
    Context context = CallerCredentials.withCaller(Context.current(), headers, certificateUser);
    ServerCall.Listener<Q> inner = Contexts.interceptCall(context, call, headers, next);
    return new Checked<>(call, inner, principal.get(), rule);
  }

  private Optional<Principal> authenticate(
      ServerCall<?, ?> call, Metadata headers, String authorization) {
    if (authorization != null) {
      if (!authorization.toLowerCase(Locale.ROOT).startsWith(BEARER)) {
        return Optional.empty();
      }
      return view.authenticate(authorization.substring(BEARER.length()).trim());
    }
    String nodeToken = headers.get(CallerCredentials.NODE_TOKEN);
    if (nodeToken != null) {
      return view.isNodeToken(nodeToken) ? Optional.of(view.nodePrincipal()) : Optional.empty();
    }
    SSLSession session = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
    String onBehalfOf = headers.get(CallerCredentials.ON_BEHALF_OF);
    if (onBehalfOf != null) {
      // Only a node may say for whom it forwards; a user's certificate carries clientAuth only.
      X509Certificate peer = CertificateNames.peerLeaf(session);
      return peer != null && NodeTls.isNodeCertificate(peer)
          ? view.byCertificateName(onBehalfOf)
          : Optional.empty();
    }
    String name = CertificateNames.clientName(session);
    return name == null ? Optional.empty() : view.byCertificateName(name);
  }

  private static <Q, R> ServerCall.Listener<Q> refuse(
      ServerCall<Q, R> call, Status status, Metadata trailers) {
    call.close(status, trailers);
    return new ServerCall.Listener<>() {};
  }

  /**
   * Checks the request against the caller's grants before the service sees it; everything else goes
   * through unchanged.
   */
  private final class Checked<Q, R>
      extends io.grpc.ForwardingServerCallListener.SimpleForwardingServerCallListener<Q> {
    private final ServerCall<Q, R> call;
    private final Principal principal;
    private final AccessRules.Rule rule;
    private boolean refused;

    Checked(
        ServerCall<Q, R> call,
        ServerCall.Listener<Q> inner,
        Principal principal,
        AccessRules.Rule rule) {
      super(inner);
      this.call = call;
      this.principal = principal;
      this.rule = rule;
    }

    @Override
    public void onMessage(Q message) {
      if (refused) {
        return;
      }
      String denied = rule.denied(principal, message);
      if (denied != null) {
        refused = true;
        permissionDenied.increment();
        call.close(
            Status.PERMISSION_DENIED.withDescription(
                "user '" + principal.name() + "' may not " + denied),
            new Metadata());
        return;
      }
      super.onMessage(message);
    }

    @Override
    public void onHalfClose() {
      if (!refused) {
        super.onHalfClose();
      }
    }
  }
}
