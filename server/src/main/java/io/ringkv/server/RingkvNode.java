package io.ringkv.server;

import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.micrometer.core.instrument.Counter;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.ringkv.proto.internal.Heartbeats;
import io.ringkv.proto.internal.RaftBatch;
import io.ringkv.server.config.Member;
import io.ringkv.server.config.NodeConfig;
import io.ringkv.server.metrics.MetricsHttpServer;
import io.ringkv.server.transport.PeerMessageHandler;
import io.ringkv.server.transport.PeerTransport;
import io.ringkv.server.transport.PeerTransportSettings;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running ringkv node: metrics/health HTTP, the peer transport, and the gRPC server with
 * reflection, the standard health service and the Cluster service.
 *
 * <p>Start-up order: metrics first (so a node that fails later is still observable), then the peer
 * transport, then the client gRPC server; the node reports SERVING (gRPC health and /health) only
 * once all three are up, and NOT_SERVING as the first step of closing. Storage and the multi-Raft
 * driver are not wired in yet: peer Raft traffic is counted and dropped.
 */
public final class RingkvNode implements AutoCloseable {
  public static final String VERSION = "0.1.0-SNAPSHOT";

  /** How long close() lets in-flight gRPC calls finish before cancelling them. */
  static final long SHUTDOWN_GRACE_MILLIS = 5_000;

  private static final Logger log = LoggerFactory.getLogger(RingkvNode.class);

  private final NodeConfig config;
  private final PrometheusMeterRegistry registry;
  private final AtomicBoolean serving = new AtomicBoolean();
  private final AtomicBoolean closed = new AtomicBoolean();
  private final HealthStatusManager health = new HealthStatusManager();
  private MetricsHttpServer metricsServer;
  private PeerTransport transport;
  private Server grpcServer;

  private RingkvNode(NodeConfig config) {
    this.config = config;
    this.registry = MetricsHttpServer.newRegistry();
  }

  /** Starts a node; on failure everything already started is closed again. */
  public static RingkvNode start(NodeConfig config) throws IOException, InterruptedException {
    RingkvNode node = new RingkvNode(config);
    try {
      node.startServices();
    } catch (IOException | InterruptedException | RuntimeException e) {
      node.close();
      throw e;
    }
    return node;
  }

  private void startServices() throws IOException, InterruptedException {
    log.info(
        "starting node {} of cluster {} (data dir {}, {} members, {} partitions, RF {})",
        config.nodeId(),
        config.clusterId(),
        config.dataDir(),
        config.members().size(),
        config.partitionCount(),
        config.replicationFactor());
    metricsServer =
        new MetricsHttpServer(config.metricsAddress().toSocketAddress(), registry, serving::get)
            .start();

    PeerTransportSettings peerSettings =
        PeerTransportSettings.defaults(
                config.clusterId(), config.nodeId(), config.peerAddress().toSocketAddress())
            .withLimits(
                config.limits().peerFrameSizeBytesMax(), config.limits().peerSendQueueFramesMax());
    long seed = System.nanoTime() ^ config.nodeId();
    log.info("peer transport jitter seed {}", seed);
    transport =
        new PeerTransport(
                peerSettings,
                new UnroutedPeerTraffic(registry),
                registry,
                new SplittableRandom(seed))
            .start();
    for (Member peer : config.peers()) {
      transport.setPeer(peer.nodeId(), peer.peerAddress().toSocketAddress());
    }

    grpcServer =
        NettyServerBuilder.forAddress(config.clientAddress().toSocketAddress())
            .maxInboundMessageSize(config.limits().requestSizeBytesMax())
            .addStreamTracerFactory(new GrpcCallMetrics(registry))
            .addService(ProtoReflectionServiceV1.newInstance())
            .addService(health.getHealthService())
            .addService(new StaticClusterService(config, transport))
            .build()
            .start();
    serving.set(true);
    health.setStatus("", io.grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING);
    log.info(
        "node {} serving: client {}, peer {}, metrics {}",
        config.nodeId(),
        clientAddress(),
        transport.localAddress(),
        metricsServer.address());
  }

  public NodeConfig config() {
    return config;
  }

  public PrometheusMeterRegistry registry() {
    return registry;
  }

  public boolean isServing() {
    return serving.get();
  }

  public InetSocketAddress clientAddress() {
    return (InetSocketAddress) grpcServer.getListenSockets().get(0);
  }

  public InetSocketAddress metricsAddress() {
    return metricsServer.address();
  }

  public InetSocketAddress peerAddress() {
    return transport.localAddress();
  }

  /** Blocks until the gRPC server has terminated (after {@link #close()}). */
  public void awaitTermination() throws InterruptedException {
    grpcServer.awaitTermination();
  }

  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    serving.set(false);
    health.enterTerminalState();
    if (grpcServer != null) {
      grpcServer.shutdown();
      try {
        if (!grpcServer.awaitTermination(SHUTDOWN_GRACE_MILLIS, TimeUnit.MILLISECONDS)) {
          grpcServer.shutdownNow();
        }
      } catch (InterruptedException e) {
        grpcServer.shutdownNow();
        Thread.currentThread().interrupt();
      }
    }
    if (transport != null) {
      transport.close();
    }
    if (metricsServer != null) {
      metricsServer.close();
    }
    registry.close();
    log.info("node {} stopped", config.nodeId());
  }

  /** Until the multi-Raft driver exists, peer Raft traffic has nowhere to go: count and drop. */
  private static final class UnroutedPeerTraffic implements PeerMessageHandler {
    private final Counter unrouted;

    UnroutedPeerTraffic(PrometheusMeterRegistry registry) {
      this.unrouted =
          Counter.builder("ringkv.peer.frames.unrouted")
              .description("peer frames dropped because no Raft driver runs yet")
              .register(registry);
    }

    @Override
    public void onRaftBatch(long fromNodeId, RaftBatch batch) {
      unrouted.increment();
    }

    @Override
    public void onHeartbeats(long fromNodeId, Heartbeats heartbeats) {
      unrouted.increment();
    }
  }
}
