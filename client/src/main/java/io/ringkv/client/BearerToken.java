package io.ringkv.client;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;

/** Sends {@code authorization: Bearer <token>} on every call (for a cluster with auth on). */
final class BearerToken implements ClientInterceptor {
  static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final String value;

  BearerToken(String token) {
    if (token == null || token.isBlank()) {
      throw new IllegalArgumentException("token must not be empty");
    }
    for (int i = 0; i < token.length(); i++) {
      char c = token.charAt(i);
      if (c <= ' ' || c >= 0x7f) {
        throw new IllegalArgumentException(
            "token must be printable ASCII without spaces (as `ringctl auth user add` prints it)");
      }
    }
    this.value = "Bearer " + token;
  }

  @Override
  public <Q, R> ClientCall<Q, R> interceptCall(
      MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
    return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
      @Override
      public void start(Listener<R> listener, Metadata headers) {
        headers.put(AUTHORIZATION, value);
        super.start(listener, headers);
      }
    };
  }
}
