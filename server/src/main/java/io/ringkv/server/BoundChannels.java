package io.ringkv.server;

import io.grpc.Attributes;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.ringkv.server.config.HostPort;
import java.net.InetSocketAddress;
import java.net.SocketAddress;

/**
 * The one way a node opens a gRPC channel to another node: sent from this node's own host address,
 * so that per-node firewall rules (the Jepsen partitions) and the peers' view of who calls them
 * hold for every call a node makes, not only Raft traffic; and over TLS with the node's certificate
 * whenever the node runs TLS (plaintext otherwise).
 */
public final class BoundChannels {
  private final String selfHost;

  /** Null for plaintext. */
  private final SslContext tls;

  private BoundChannels(String selfHost, SslContext tls) {
    if (selfHost == null || selfHost.isEmpty()) {
      throw new IllegalArgumentException("selfHost must not be empty");
    }
    this.selfHost = selfHost;
    this.tls = tls;
  }

  /** Plaintext channels from {@code selfHost}. */
  public static BoundChannels plaintext(String selfHost) {
    return new BoundChannels(selfHost, null);
  }

  /** TLS channels from {@code selfHost} with {@code tls} (a client context). */
  public static BoundChannels tls(String selfHost, SslContext tls) {
    if (tls == null || tls.isServer()) {
      throw new IllegalArgumentException("a client TLS context is required");
    }
    return new BoundChannels(selfHost, tls);
  }

  /** This node's host, the source address of every channel. */
  public String selfHost() {
    return selfHost;
  }

  /**
   * A builder for a channel to {@code remote} whose sockets bind this node's host. A host name is
   * looked up again whenever the channel cannot connect (grpc-java's DNS resolver), so a node that
   * comes back at a new address under its name is reached there.
   */
  public NettyChannelBuilder to(HostPort remote) {
    NettyChannelBuilder builder = NettyChannelBuilder.forTarget("dns:///" + remote);
    if (tls == null) {
      builder.usePlaintext();
    } else {
      builder.sslContext(tls);
    }
    return builder.localSocketPicker(
        new NettyChannelBuilder.LocalSocketPicker() {
          @Override
          public SocketAddress createSocketAddress(
              SocketAddress remoteAddress, Attributes attributes) {
            return new InetSocketAddress(selfHost, 0);
          }
        });
  }
}
