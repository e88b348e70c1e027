package io.ringkv.server;

import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.server.config.Member;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * One gRPC channel per peer's client address, for forwarding. Channels bind this node's own host as
 * their source address, so per-node firewall rules also cut forwarded traffic.
 */
final class PeerChannels implements AutoCloseable {
  private final long selfNodeId;
  private final String selfHost;
  private final Map<Long, Member> members = new ConcurrentHashMap<>();
  private final Map<Long, ManagedChannel> channels = new ConcurrentHashMap<>();

  /** Largest response a forwarded call may bring back (response-size-bytes-max plus room). */
  private final int inboundMessageSizeBytesMax;

  PeerChannels(
      long selfNodeId, String selfHost, Map<Long, Member> members, int responseSizeBytesMax) {
    this.inboundMessageSizeBytesMax =
        responseSizeBytesMax + io.ringkv.server.config.Limits.RESPONSE_OVERHEAD_BYTES;
    this.selfNodeId = selfNodeId;
    this.selfHost = selfHost;
    this.members.putAll(members);
  }

  /**
   * Follows the cluster map: a new member gets a channel on first use, a moved one a new channel, a
   * removed one none.
   */
  void setMember(Member member) {
    Member previous = members.put(member.nodeId(), member);
    if (previous != null && !previous.equals(member)) {
      closeChannel(member.nodeId());
    }
  }

  void removeMember(long nodeId) {
    members.remove(nodeId);
    closeChannel(nodeId);
  }

  private void closeChannel(long nodeId) {
    ManagedChannel channel = channels.remove(nodeId);
    if (channel != null) {
      channel.shutdown();
    }
  }

  /** A KV stub to {@code nodeId} whose calls carry the forwarded marker. */
  KVGrpc.KVBlockingStub kv(long nodeId, Integer scanPartition) {
    Metadata headers = new Metadata();
    headers.put(ForwardingHeaders.FORWARDED, Long.toString(selfNodeId));
    if (scanPartition != null) {
      headers.put(ForwardingHeaders.SCAN_PARTITION, Integer.toString(scanPartition));
    }
    return KVGrpc.newBlockingStub(channel(nodeId))
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
  }

  /** A Cluster stub to {@code nodeId} whose calls carry the forwarded marker. */
  io.ringkv.proto.v1.ClusterGrpc.ClusterBlockingStub cluster(long nodeId) {
    Metadata headers = new Metadata();
    headers.put(ForwardingHeaders.FORWARDED, Long.toString(selfNodeId));
    return io.ringkv.proto.v1.ClusterGrpc.newBlockingStub(channel(nodeId))
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
  }

  String clientAddress(long nodeId) {
    Member member = members.get(nodeId);
    return member == null ? "" : member.clientAddress().toString();
  }

  private ManagedChannel channel(long nodeId) {
    return channels.computeIfAbsent(
        nodeId,
        id -> {
          Member member = members.get(id);
          if (member == null) {
            throw new IllegalArgumentException("unknown node " + id);
          }
          return NettyChannelBuilder.forAddress(member.clientAddress().toSocketAddress())
              .usePlaintext()
              .maxInboundMessageSize(inboundMessageSizeBytesMax)
              .localSocketPicker(
                  new NettyChannelBuilder.LocalSocketPicker() {
                    @Override
                    public java.net.SocketAddress createSocketAddress(
                        java.net.SocketAddress remote, io.grpc.Attributes attributes) {
                      return new InetSocketAddress(selfHost, 0);
                    }
                  })
              .build();
        });
  }

  @Override
  public void close() {
    for (ManagedChannel channel : channels.values()) {
      channel.shutdownNow();
    }
    for (ManagedChannel channel : channels.values()) {
      try {
        channel.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }
}
