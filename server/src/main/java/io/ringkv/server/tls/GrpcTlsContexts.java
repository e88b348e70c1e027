package io.ringkv.server.tls;

import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.netty.handler.ssl.ClientAuth;
import io.grpc.netty.shaded.io.netty.handler.ssl.DelegatingSslContext;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslHandler;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslProvider;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;

/**
 * The gRPC (grpc-netty-shaded) contexts of a node's TLS: the client listener's, which counts every
 * failed handshake, and the one of the node's own channels to other nodes, which presents the node
 * certificate as a client certificate. Both use the JDK's TLS so that the reloading key and trust
 * managers of {@link NodeTls} are asked at every handshake.
 */
public final class GrpcTlsContexts {
  private GrpcTlsContexts() {}

  /** The client listener's context: client certificates as the settings say, failures counted. */
  public static SslContext server(NodeTls tls) throws SSLException {
    ClientAuth clientAuth =
        switch (tls.settings().clientAuth()) {
          case NONE -> ClientAuth.NONE;
          case OPTIONAL -> ClientAuth.OPTIONAL;
          case REQUIRE -> ClientAuth.REQUIRE;
        };
    SslContext context =
        GrpcSslContexts.configure(SslContextBuilder.forServer(tls.keyManager()), SslProvider.JDK)
            .trustManager(tls.trustManager(NodeTls.Listener.CLIENT))
            .clientAuth(clientAuth)
            .build();
    return new CountingContext(context, tls);
  }

  /** The context of this node's gRPC channels to other nodes (forwarding, admin, map, scans). */
  public static SslContext channel(NodeTls tls) throws SSLException {
    return GrpcSslContexts.configure(SslContextBuilder.forClient(), SslProvider.JDK)
        .keyManager(tls.keyManager())
        .trustManager(tls.trustManager(NodeTls.Listener.CLIENT))
        .build();
  }

  /** Hooks every handler the server makes, to count its handshake if it fails. */
  private static final class CountingContext extends DelegatingSslContext {
    private final NodeTls tls;

    CountingContext(SslContext context, NodeTls tls) {
      super(context);
      this.tls = tls;
    }

    @Override
    protected void initEngine(SSLEngine engine) {}

    @Override
    protected void initHandler(SslHandler handler) {
      handler
          .handshakeFuture()
          .addListener(future -> {
            if (!future.isSuccess()) {
              tls.handshakeFailed(NodeTls.Listener.CLIENT, future.cause());
            }
          });
    }
  }
}
