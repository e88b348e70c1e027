package io.ringkv.client.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.ringkv.client.InMemoryKv;
import io.ringkv.client.RingKvClient;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Proves the client's token option and ringctl's --token: every call carries {@code authorization:
 * Bearer <token>} (seen by a server on 127.0.13.9 that records the header), no token sends none,
 * and a token with a space is refused by the builder before any call.
 */
class TokenOptionTest {
  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final List<String> seen = new CopyOnWriteArrayList<>();
  private Server server;
  private String endpoint;

  @BeforeEach
  void start() throws Exception {
    ServerInterceptor recorder =
        new ServerInterceptor() {
          @Override
          public <Q, R> ServerCall.Listener<Q> interceptCall(
              ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
            String value = headers.get(AUTHORIZATION);
            seen.add(value == null ? "<none>" : value);
            return next.startCall(call, headers);
          }
        };
    server =
        NettyServerBuilder.forAddress(new InetSocketAddress("127.0.13.9", 0))
            .addService(ServerInterceptors.intercept(new InMemoryKv(), recorder))
            .build()
            .start();
    endpoint = "127.0.13.9:" + server.getPort();
  }

  @AfterEach
  void stop() {
    server.shutdownNow();
  }

  @Test
  void clientSendsItsTokenOnEveryCall() {
    try (RingKvClient client =
        RingKvClient.builder().endpoints(endpoint).token("alice.s3cret").build()) {
      client.blocking().put("k", "v");
      client.blocking().get("k");
    }
    assertThat(seen).isNotEmpty().allMatch("Bearer alice.s3cret"::equals);
    assertThatThrownBy(() -> RingKvClient.builder().endpoints(endpoint).token("a b"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void ringctlTokenOption() {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code =
        RingCtl.run(
            new PrintWriter(out),
            new PrintWriter(err),
            "--endpoints",
            endpoint,
            "--token",
            "bob.t0ken",
            "put",
            "k",
            "v");
    assertThat(code).as(err.toString()).isZero();
    assertThat(seen).isNotEmpty().allMatch("Bearer bob.t0ken"::equals);
    seen.clear();
    RingCtl.run(new PrintWriter(out), new PrintWriter(err), "--endpoints", endpoint, "get", "k");
    assertThat(seen).as("no --token and no RINGKV_TOKEN").isNotEmpty().allMatch("<none>"::equals);
  }
}
