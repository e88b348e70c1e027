package io.ringkv.server;

import io.grpc.Attributes;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.net.InetSocketAddress;
import java.net.SocketAddress;

/**
 * The one way a node opens a gRPC channel to another node: plaintext, and sent from this node's own
 * host address, so that per-node firewall rules (the Jepsen partitions) and the peers' view of who
 * calls them hold for every call a node makes, not only Raft traffic.
 */
public final class BoundChannels {
  private BoundChannels() {}

  /** A builder for a channel to {@code remote} whose sockets bind {@code selfHost}. */
  public static NettyChannelBuilder to(SocketAddress remote, String selfHost) {
    return NettyChannelBuilder.forAddress(remote)
        .usePlaintext()
        .localSocketPicker(
            new NettyChannelBuilder.LocalSocketPicker() {
              @Override
              public SocketAddress createSocketAddress(
                  SocketAddress remoteAddress, Attributes attributes) {
                return new InetSocketAddress(selfHost, 0);
              }
            });
  }
}
