package io.ringkv.client;

import io.grpc.ChannelCredentials;
import io.grpc.ClientInterceptor;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * One gRPC channel per node address, created on first use, all closed together; plaintext, or TLS
 * when the client was given credentials.
 */
final class ChannelPool implements AutoCloseable {
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  private final List<ClientInterceptor> interceptors;
  private final int messageSizeBytesMax;
  private final boolean directCallbacks;

  /** TLS credentials, or null for plaintext. */
  private final ChannelCredentials tls;

  private volatile boolean closed;

  ChannelPool(
      List<ClientInterceptor> interceptors,
      int messageSizeBytesMax,
      boolean directCallbacks,
      ChannelCredentials tls) {
    this.tls = tls;
    this.interceptors = List.copyOf(interceptors);
    this.messageSizeBytesMax = messageSizeBytesMax;
    this.directCallbacks = directCallbacks;
  }

  ManagedChannel channel(String address) {
    if (closed) {
      throw new IllegalStateException("the ringkv client is closed");
    }
    return channels.computeIfAbsent(address, this::open);
  }

  private ManagedChannel open(String address) {
    Endpoints.HostPort hostPort = Endpoints.parse(address);
    NettyChannelBuilder builder =
        tls == null
            ? NettyChannelBuilder.forAddress(hostPort.host(), hostPort.port()).usePlaintext()
            : NettyChannelBuilder.forAddress(hostPort.host(), hostPort.port(), tls);
    builder.maxInboundMessageSize(messageSizeBytesMax).intercept(interceptors);
    if (directCallbacks) {
      builder.directExecutor();
    }
    return builder.build();
  }

  @Override
  public void close() {
    closed = true;
    List<ManagedChannel> open = new ArrayList<>(channels.values());
    channels.clear();
    open.forEach(ManagedChannel::shutdown);
    for (ManagedChannel channel : open) {
      try {
        if (!channel.awaitTermination(2, TimeUnit.SECONDS)) {
          channel.shutdownNow();
        }
      } catch (InterruptedException e) {
        channel.shutdownNow();
        Thread.currentThread().interrupt();
      }
    }
  }
}
