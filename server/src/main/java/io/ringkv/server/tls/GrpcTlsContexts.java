package io.ringkv.server.tls;

import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.InternalProtocolNegotiator;
import io.grpc.netty.shaded.io.netty.handler.ssl.ClientAuth;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslProvider;
import javax.net.ssl.SSLException;

/**
 * The gRPC (grpc-netty-shaded) contexts of a node's TLS: the client listener's, and the one of the
 * node's own channels to other nodes, which presents the node certificate as a client certificate.
 * Both use the JDK's TLS so that the reloading key and trust managers of {@link NodeTls} are asked
 * at every handshake.
 */
public final class GrpcTlsContexts {
  private GrpcTlsContexts() {}

  /**
   * The client listener's TLS for {@code NettyServerBuilder.protocolNegotiator}: {@link
   * #server(NodeTls)}'s context, with every failed handshake counted on the client listener.
   */
  public static InternalProtocolNegotiator.ProtocolNegotiator serverNegotiator(NodeTls tls)
      throws SSLException {
    return new CountingServerTls(
        server(tls), cause -> tls.handshakeFailed(NodeTls.Listener.CLIENT, cause));
  }

  /** The client listener's context: client certificates as the settings say. */
  static SslContext server(NodeTls tls) throws SSLException {
    ClientAuth clientAuth =
        switch (tls.settings().clientAuth()) {
          case NONE -> ClientAuth.NONE;
          case OPTIONAL -> ClientAuth.OPTIONAL;
          case REQUIRE -> ClientAuth.REQUIRE;
        };
    return GrpcSslContexts.configure(SslContextBuilder.forServer(tls.keyManager()), SslProvider.JDK)
        .trustManager(tls.trustManager(NodeTls.Listener.CLIENT))
        .clientAuth(clientAuth)
        .build();
  }

  /** The context of this node's gRPC channels to other nodes (forwarding, admin, map, scans). */
  public static SslContext channel(NodeTls tls) throws SSLException {
    return GrpcSslContexts.configure(SslContextBuilder.forClient(), SslProvider.JDK)
        .keyManager(tls.keyManager())
        .trustManager(tls.trustManager(NodeTls.Listener.CLIENT))
        .build();
  }
}
