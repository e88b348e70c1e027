package io.ringkv.server;

import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import io.ringkv.proto.internal.ClusterMap;
import io.ringkv.proto.internal.ClusterMember;
import io.ringkv.proto.internal.NodeScanGrpc;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.server.config.HostPort;
import io.ringkv.server.membership.ClusterMapView;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * One gRPC channel per peer's client address, for forwarding. Channels bind this node's own host as
 * their source address, so per-node firewall rules also cut forwarded traffic.
 *
 * <p>Members come from the cluster map: a node that joined gets a channel on first use; when a map
 * marks a member REMOVED or gives it another client address, its channel is closed (and, for a new
 * address, opened anew on next use).
 */
final class PeerChannels implements AutoCloseable {
  private final long selfNodeId;
  private final BoundChannels boundChannels;
  private final ClusterMapView mapView;
  private final Map<Long, Open> channels = new ConcurrentHashMap<>();

  /** A channel and the client address it was opened to. */
  private record Open(String address, ManagedChannel channel) {}

  /** Largest response a forwarded call may bring back (response-size-bytes-max plus room). */
  private final int inboundMessageSizeBytesMax;

  PeerChannels(
      long selfNodeId,
      BoundChannels boundChannels,
      ClusterMapView mapView,
      int responseSizeBytesMax) {
    this.inboundMessageSizeBytesMax =
        responseSizeBytesMax + io.ringkv.server.config.Limits.RESPONSE_OVERHEAD_BYTES;
    this.selfNodeId = selfNodeId;
    this.boundChannels = boundChannels;
    this.mapView = mapView;
    mapView.addListener(this::onMap);
  }

  /** Closes the channels of members the map removed or moved to another address. */
  private void onMap(ClusterMap map) {
    for (ClusterMember member : map.getMembersList()) {
      Open open = channels.get(member.getNodeId());
      if (open != null
          && (member.getState() == ClusterMember.State.REMOVED
              || !open.address().equals(member.getClientAddress()))
          && channels.remove(member.getNodeId(), open)) {
        open.channel().shutdown();
      }
    }
  }

  /** A KV stub to {@code nodeId} whose calls carry the forwarded marker. */
  KVGrpc.KVBlockingStub kv(long nodeId, Integer scanPartition) {
    Metadata headers = forwardedHeaders();
    if (scanPartition != null) {
      headers.put(ForwardingHeaders.SCAN_PARTITION, Integer.toString(scanPartition));
    }
    return KVGrpc.newBlockingStub(channel(nodeId))
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
  }

  /** A NodeScan stub to {@code nodeId} whose calls carry the forwarded marker. */
  NodeScanGrpc.NodeScanBlockingStub nodeScan(long nodeId) {
    return NodeScanGrpc.newBlockingStub(channel(nodeId))
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(forwardedHeaders()));
  }

  /** A Cluster stub to {@code nodeId} whose calls carry the forwarded marker. */
  io.ringkv.proto.v1.ClusterGrpc.ClusterBlockingStub cluster(long nodeId) {
    return io.ringkv.proto.v1.ClusterGrpc.newBlockingStub(channel(nodeId))
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(forwardedHeaders()));
  }

  private Metadata forwardedHeaders() {
    Metadata headers = new Metadata();
    headers.put(ForwardingHeaders.FORWARDED, Long.toString(selfNodeId));
    return headers;
  }

  /** The member's client address in the map, or "" for a node the map does not know. */
  String clientAddress(long nodeId) {
    return mapView.member(nodeId).map(ClusterMember::getClientAddress).orElse("");
  }

  private ManagedChannel channel(long nodeId) {
    Open open = channels.computeIfAbsent(nodeId, this::open);
    if (!open.address().equals(clientAddress(nodeId))) {
      // Opened from a map that a newer one replaced while we opened it: open it anew.
      if (channels.remove(nodeId, open)) {
        open.channel().shutdown();
      }
      open = channels.computeIfAbsent(nodeId, this::open);
    }
    return open.channel();
  }

  private Open open(long nodeId) {
    ClusterMember member =
        mapView
            .member(nodeId)
            .filter(m -> m.getState() != ClusterMember.State.REMOVED)
            .orElseThrow(() ->
                io.grpc.Status.UNAVAILABLE
                    .withDescription("node " + nodeId + " is not a member of the cluster map")
                    .asRuntimeException());
    HostPort address = HostPort.parse(member.getClientAddress(), "", 0);
    return new Open(
        member.getClientAddress(),
        boundChannels
            .to(address)
            .maxInboundMessageSize(inboundMessageSizeBytesMax)
            // A forwarded call carries the caller's own credentials: the receiver checks them.
            .intercept(io.ringkv.server.auth.CallerCredentials.passCallerOn())
            .build());
  }

  @Override
  public void close() {
    for (Open open : channels.values()) {
      open.channel().shutdownNow();
    }
    for (Open open : channels.values()) {
      try {
        open.channel().awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }
}
