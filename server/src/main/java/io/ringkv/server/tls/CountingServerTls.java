package io.ringkv.server.tls;

import io.grpc.netty.shaded.io.grpc.netty.GrpcHttp2ConnectionHandler;
import io.grpc.netty.shaded.io.grpc.netty.InternalProtocolNegotiator;
import io.grpc.netty.shaded.io.grpc.netty.InternalProtocolNegotiators;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandler;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandlerContext;
import io.grpc.netty.shaded.io.netty.channel.ChannelInboundHandlerAdapter;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslHandler;
import io.grpc.netty.shaded.io.netty.util.AsciiString;
import java.util.function.Consumer;

/**
 * The client listener's TLS negotiation: grpc-java's own, plus a count of every handshake that
 * fails, whatever the reason (a plaintext client, a client certificate missing where one is
 * required, one not signed by the cluster CA, a client that hangs up).
 *
 * <p>grpc-java makes the listener's SslHandler itself when a connection becomes active, out of
 * reach of a plain {@code sslContext(...)}. This negotiator puts a watcher in front of grpc-java's
 * TLS handler; once that handler has put its SslHandler into the pipeline, the watcher listens on
 * the handshake's future and leaves the pipeline. grpc-java marks the negotiator interfaces
 * internal; they are the one place where the handshake of a served connection can be observed.
 */
final class CountingServerTls implements InternalProtocolNegotiator.ProtocolNegotiator {
  private final InternalProtocolNegotiator.ProtocolNegotiator tls;
  private final Consumer<Throwable> handshakeFailed;

  CountingServerTls(SslContext context, Consumer<Throwable> handshakeFailed) {
    this.tls = InternalProtocolNegotiators.serverTls(context);
    this.handshakeFailed = handshakeFailed;
  }

  @Override
  public AsciiString scheme() {
    return tls.scheme();
  }

  @Override
  public ChannelHandler newHandler(GrpcHttp2ConnectionHandler grpcHandler) {
    return new Watcher(tls.newHandler(grpcHandler));
  }

  @Override
  public void close() {
    tls.close();
  }

  /** Adds grpc-java's handler behind itself and hooks the handshake as soon as it exists. */
  private final class Watcher extends ChannelInboundHandlerAdapter {
    private final ChannelHandler negotiation;
    private boolean hooked;

    Watcher(ChannelHandler negotiation) {
      this.negotiation = negotiation;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
      ctx.pipeline().addAfter(ctx.name(), null, negotiation);
      hook(ctx);
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      ctx.fireChannelActive(); // grpc-java adds its SslHandler on the way
      hook(ctx);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
      ctx.fireUserEventTriggered(event);
      hook(ctx);
    }

    private void hook(ChannelHandlerContext ctx) {
      if (hooked) {
        return;
      }
      SslHandler ssl = ctx.pipeline().get(SslHandler.class);
      if (ssl == null) {
        return;
      }
      hooked = true;
      ssl.handshakeFuture()
          .addListener(done -> {
            if (!done.isSuccess()) {
              handshakeFailed.accept(done.cause());
            }
          });
      ctx.pipeline().remove(this);
    }
  }
}
