package io.ringkv.server.transport;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.ringkv.proto.internal.Heartbeats;
import io.ringkv.proto.internal.PeerFrame;
import io.ringkv.proto.internal.RaftBatch;
import io.ringkv.proto.internal.SnapshotChunk;
import io.ringkv.proto.internal.SnapshotChunkAck;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.random.RandomGenerator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node-to-node transport of Raft traffic: TCP with length-prefixed protobuf frames.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>One connection per peer pair, dialed by the lower node id.</b> The node with the lower
 *       id dials; the higher one accepts and sends over the accepted connection. There is never a
 *       race between two connections of one pair, and both directions share one TCP stream. When a
 *       new connection from the same peer completes its handshake, it replaces the old one (the
 *       peer restarted, or the old connection is half dead).
 *   <li><b>Handshake.</b> The dialer sends cluster id, its node id, the node id it means to reach
 *       and the protocol version; the acceptor checks all four and answers with an ack (its own
 *       cluster id and node id, which the dialer checks in turn) or a rejection with a reason, then
 *       closes. Until then a connection may send only {@link #HANDSHAKE_FRAME_SIZE_BYTES_MAX} bytes
 *       per frame and must finish within the handshake timeout. Garbage, oversized lengths, frames
 *       out of order or a foreign cluster close that one connection, logged and counted; the
 *       transport carries on.
 *   <li><b>Sending never blocks and is bounded.</b> Frames for a connected peer are written at once
 *       unless its write buffer is above the high-water mark (then dropped and counted); frames for
 *       a peer not connected wait in a bounded queue (overflow dropped and counted). Raft resends
 *       what is lost.
 *   <li><b>Reconnects</b> use exponential backoff with jitter from an injected random source.
 *       Outgoing connections bind this node's own address as their source, so firewall rules
 *       between node addresses apply to them.
 *   <li>Idle connections send keepalives; a connection that hears nothing for the idle timeout is
 *       closed and (on the dialing side) redialed, so a silently dead link is noticed.
 * </ul>
 */
public final class PeerTransport implements AutoCloseable {
  /** Version of the peer protocol spoken here; peers must speak the same. */
  public static final int PROTOCOL_VERSION = 1;

  /**
   * Most peers this transport keeps state for. Accepted connections from node ids not configured
   * yet (a member this node has not heard of) create state too, so the bound keeps a misbehaving
   * client with the right cluster id from growing it without end.
   */
  public static final int PEER_COUNT_MAX = 1024;

  /** A handshake frame is tiny; a connection gets no more until it has identified itself. */
  public static final int HANDSHAKE_FRAME_SIZE_BYTES_MAX = 4096;

  /** Members removed from the cluster: their handshakes are rejected (any thread). */
  private final java.util.Set<Long> refused = java.util.concurrent.ConcurrentHashMap.newKeySet();

  private static final Logger log = LoggerFactory.getLogger(PeerTransport.class);

  private final PeerTransportSettings settings;
  private final PeerMessageHandler handler;
  private final ReconnectBackoff backoff;

  /** Null when peer traffic is plaintext. */
  private final PeerTls tls;

  private final EventLoopGroup eventLoops;
  private final Map<Long, PeerLink> links = new ConcurrentHashMap<>();
  private final AtomicBoolean closed = new AtomicBoolean();
  final PeerTransportMetrics metrics;
  private volatile Channel serverChannel;

  /** Per-peer state. {@code channel} is the handshaken connection, or null. */
  static final class PeerLink {
    final long nodeId;
    volatile InetSocketAddress address;
    volatile Channel channel;
    volatile boolean removed;
    final Queue<PeerFrame> pending = new ConcurrentLinkedQueue<>();
    final AtomicInteger pendingCount = new AtomicInteger();
    final AtomicBoolean dialActive = new AtomicBoolean();
    int failedDials;

    PeerLink(long nodeId) {
      this.nodeId = nodeId;
    }
  }

  /** A plaintext transport. */
  public PeerTransport(
      PeerTransportSettings settings,
      PeerMessageHandler handler,
      MeterRegistry registry,
      RandomGenerator random) {
    this(settings, handler, registry, random, null);
  }

  /** A transport whose connections start with mutual TLS by {@code tls} (null: plaintext). */
  public PeerTransport(
      PeerTransportSettings settings,
      PeerMessageHandler handler,
      MeterRegistry registry,
      RandomGenerator random,
      PeerTls tls) {
    this.settings = settings;
    this.tls = tls;
    this.handler = handler;
    this.backoff =
        new ReconnectBackoff(
            settings.reconnectBackoffMinMillis(), settings.reconnectBackoffMaxMillis(), random);
    this.metrics = new PeerTransportMetrics(registry);
    this.eventLoops =
        new MultiThreadIoEventLoopGroup(
            settings.eventLoopThreads(),
            new DefaultThreadFactory("ringkv-peer-" + settings.nodeId(), true),
            NioIoHandler.newFactory());
  }

  /** Binds the listen address. Throws if it cannot (port in use, address not local). */
  public PeerTransport start() throws InterruptedException {
    ServerBootstrap bootstrap =
        new ServerBootstrap()
            .group(eventLoops)
            .channel(NioServerSocketChannel.class)
            .option(ChannelOption.SO_REUSEADDR, true)
            .childOption(ChannelOption.TCP_NODELAY, true)
            .childOption(ChannelOption.SO_KEEPALIVE, true)
            .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, waterMark())
            .childHandler(
                new ChannelInitializer<SocketChannel>() {
                  @Override
                  protected void initChannel(SocketChannel channel) {
                    initPipeline(channel, 0, null);
                  }
                });
    serverChannel = bootstrap.bind(settings.listenAddress()).sync().channel();
    log.info(
        "peer transport of node {} (cluster {}) listening on {}",
        settings.nodeId(),
        settings.clusterId(),
        serverChannel.localAddress());
    return this;
  }

  /** The bound address (with the actual port when the settings asked for port 0). */
  public InetSocketAddress localAddress() {
    return (InetSocketAddress) serverChannel.localAddress();
  }

  public long nodeId() {
    return settings.nodeId();
  }

  /**
   * Adds or updates a peer. If this node dials that peer (it has the lower id), dialing starts now
   * and continues with backoff until the peer is removed or the transport closed.
   */
  public void setPeer(long nodeId, InetSocketAddress address) {
    if (nodeId <= 0 || nodeId == settings.nodeId()) {
      throw new IllegalArgumentException("not a peer id: " + nodeId);
    }
    if (refused.contains(nodeId)) {
      throw new IllegalArgumentException("node " + nodeId + " was removed from the cluster");
    }
    if (!links.containsKey(nodeId) && links.size() >= PEER_COUNT_MAX) {
      throw new IllegalStateException("more than " + PEER_COUNT_MAX + " peers");
    }
    PeerLink link = links.computeIfAbsent(nodeId, PeerLink::new);
    InetSocketAddress previous = link.address;
    link.address = address;
    if (previous != null && !previous.equals(address)) {
      Channel channel = link.channel;
      if (channel != null) {
        channel.close();
      }
    }
    if (dialsTo(nodeId)) {
      scheduleDial(link, 0);
    }
  }

  /** Forgets a peer: closes its connection, drops its queued frames, stops dialing it. */
  public void removePeer(long nodeId) {
    PeerLink link = links.remove(nodeId);
    if (link != null) {
      link.removed = true;
      Channel channel = link.channel;
      if (channel != null) {
        channel.close();
      }
      link.pending.clear();
      link.pendingCount.set(0);
    }
  }

  /**
   * Refuses {@code nodeId} for good (a member the cluster map marks REMOVED): its connection is
   * closed, its handshakes are rejected from now on, and it is never dialed again.
   */
  public void refusePeer(long nodeId) {
    refused.add(nodeId);
    removePeer(nodeId);
  }

  /** Whether {@link #refusePeer} was called for {@code nodeId}. */
  boolean refuses(long nodeId) {
    return refused.contains(nodeId);
  }

  /** True when a handshaken connection to {@code nodeId} is open. */
  public boolean isConnected(long nodeId) {
    PeerLink link = links.get(nodeId);
    Channel channel = link == null ? null : link.channel;
    return channel != null && channel.isActive();
  }

  public boolean sendRaftBatch(long toNodeId, RaftBatch batch) {
    return send(toNodeId, PeerFrame.newBuilder().setRaftBatch(batch).build());
  }

  public boolean sendHeartbeats(long toNodeId, Heartbeats heartbeats) {
    return send(toNodeId, PeerFrame.newBuilder().setHeartbeats(heartbeats).build());
  }

  /** Sends one snapshot chunk (same rules as {@link #send}). */
  public boolean sendSnapshotChunk(long toNodeId, SnapshotChunk chunk) {
    return send(toNodeId, PeerFrame.newBuilder().setSnapshotChunk(chunk).build());
  }

  public boolean sendSnapshotChunkAck(long toNodeId, SnapshotChunkAck ack) {
    return send(toNodeId, PeerFrame.newBuilder().setSnapshotChunkAck(ack).build());
  }

  /** The largest frame this transport sends or accepts. */
  public int frameSizeBytesMax() {
    return settings.frameSizeBytesMax();
  }

  /**
   * Sends or queues a frame without blocking. Returns false when the frame was dropped (too large,
   * unknown peer, queue full, connection backed up); every drop is counted by reason.
   */
  boolean send(long toNodeId, PeerFrame frame) {
    if (frame.getSerializedSize() > settings.frameSizeBytesMax()) {
      metrics.dropped("frame_too_large");
      return false;
    }
    PeerLink link = links.get(toNodeId);
    if (link == null || closed.get()) {
      metrics.dropped("unknown_peer");
      return false;
    }
    Channel channel = link.channel;
    if (channel != null) {
      if (!channel.isWritable()) {
        metrics.dropped("backpressure");
        return false;
      }
      channel.writeAndFlush(frame, channel.voidPromise());
      metrics.framesSent.increment();
      return true;
    }
    if (link.pendingCount.incrementAndGet() > settings.sendQueueFramesMax()) {
      link.pendingCount.decrementAndGet();
      metrics.dropped("queue_full");
      return false;
    }
    link.pending.add(frame);
    // The connection may have come up between the check above and the enqueue.
    Channel now = link.channel;
    if (now != null) {
      now.eventLoop().execute(() -> drainPending(link));
    }
    return true;
  }

  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    for (PeerLink link : links.values()) {
      link.removed = true;
      Channel channel = link.channel;
      if (channel != null) {
        channel.close();
      }
    }
    Channel server = serverChannel;
    if (server != null) {
      server.close().awaitUninterruptibly();
    }
    eventLoops.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
    log.info("peer transport of node {} closed", settings.nodeId());
  }

  // --- package-private plumbing used by PeerChannelHandler -----------------------------------

  PeerTransportSettings settings() {
    return settings;
  }

  PeerMessageHandler handler() {
    return handler;
  }

  /** The lower id of a pair dials. */
  boolean dialsTo(long peerId) {
    return settings.nodeId() < peerId;
  }

  /** True when the last dial of {@code peerId} failed too: repeat failures log quietly. */
  boolean isRedialing(long peerId) {
    PeerLink link = links.get(peerId);
    return link != null && link.failedDials > 0;
  }

  /** Whether an accepted connection from {@code peerId} may be admitted (see PEER_COUNT_MAX). */
  boolean admits(long peerId) {
    return !refused.contains(peerId)
        && (links.containsKey(peerId) || links.size() < PEER_COUNT_MAX);
  }

  /** Called on the channel's event loop when its handshake succeeded. */
  void attach(long peerId, Channel channel, boolean outbound) {
    PeerLink link = outbound ? links.get(peerId) : links.computeIfAbsent(peerId, PeerLink::new);
    if (link == null || link.removed || closed.get()) {
      channel.close();
      return;
    }
    Channel previous = link.channel;
    link.channel = channel;
    if (outbound) {
      link.failedDials = 0;
    }
    if (previous != null && previous != channel) {
      log.info("node {}: replacing connection to node {}", settings.nodeId(), peerId);
      previous.close();
    }
    metrics.connected(outbound);
    log.info(
        "node {}: connected to node {} ({} {})",
        settings.nodeId(),
        peerId,
        outbound ? "dialed" : "accepted from",
        channel.remoteAddress());
    notifyHandler(() -> handler.onPeerConnected(peerId));
    drainPending(link);
  }

  /** Called when a channel that completed or attempted a handshake with {@code peerId} closes. */
  void detach(long peerId, Channel channel, boolean outbound) {
    PeerLink link = links.get(peerId);
    if (link == null) {
      return;
    }
    if (link.channel == channel) {
      link.channel = null;
      log.info("node {}: connection to node {} closed", settings.nodeId(), peerId);
      notifyHandler(() -> handler.onPeerDisconnected(peerId));
    }
    if (outbound) {
      link.dialActive.set(false);
      scheduleDial(link, backoff.delayMillis(link.failedDials++));
    }
  }

  private void scheduleDial(PeerLink link, long delayMillis) {
    if (closed.get() || link.removed || !link.dialActive.compareAndSet(false, true)) {
      return;
    }
    try {
      eventLoops.schedule(() -> dial(link), delayMillis, TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      link.dialActive.set(false); // shutting down
    }
  }

  private void dial(PeerLink link) {
    InetSocketAddress address = link.address;
    if (closed.get() || link.removed || link.channel != null || address == null) {
      link.dialActive.set(false);
      return;
    }
    InetSocketAddress target = lookedUpAgain(address);
    InetSocketAddress source = new InetSocketAddress(settings.listenAddress().getAddress(), 0);
    Bootstrap bootstrap =
        new Bootstrap()
            .group(eventLoops)
            .channel(NioSocketChannel.class)
            .option(ChannelOption.TCP_NODELAY, true)
            .option(ChannelOption.SO_KEEPALIVE, true)
            .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) settings.handshakeTimeoutMillis())
            .option(ChannelOption.WRITE_BUFFER_WATER_MARK, waterMark())
            .handler(
                new ChannelInitializer<SocketChannel>() {
                  @Override
                  protected void initChannel(SocketChannel channel) {
                    initPipeline(channel, link.nodeId, address);
                  }
                });
    ChannelFuture connect = bootstrap.connect(target, source);
    connect.addListener(future -> {
      if (!future.isSuccess()) {
        metrics.dialFailures.increment();
        if (link.failedDials == 0) {
          log.info(
              "node {}: cannot reach node {} at {}: {}",
              settings.nodeId(),
              link.nodeId,
              address,
              future.cause().getMessage());
        }
        link.dialActive.set(false);
        scheduleDial(link, backoff.delayMillis(link.failedDials++));
      }
    });
  }

  /**
   * The address to dial now. A peer named by a host name is looked up again on every dial (through
   * the JVM's resolver and its cache), so that a node that comes back on a new address under the
   * same name, as a rescheduled Kubernetes pod does, is found again instead of being dialed at its
   * old address forever. An IP literal stays as it is. The lookup runs on the event loop that
   * dials, and only while a link is down: names are expected to resolve locally and fast (a hosts
   * file, the cluster's DNS), as the JVM caches answers for 30 s.
   */
  static InetSocketAddress lookedUpAgain(InetSocketAddress address) {
    return new InetSocketAddress(address.getHostString(), address.getPort());
  }

  /**
   * Frames after TLS when it is on: a plaintext or untrusted peer fails the TLS handshake and is
   * closed before any frame of it is decoded. {@code dialed} is the address dialed, or null for an
   * accepted connection.
   */
  private void initPipeline(SocketChannel channel, long dialedPeerId, InetSocketAddress dialed) {
    if (tls != null) {
      SslHandler ssl =
          dialed == null
              ? tls.serverContext().newHandler(channel.alloc())
              : tls.clientContext()
                  .newHandler(channel.alloc(), dialed.getHostString(), dialed.getPort());
      ssl.setHandshakeTimeoutMillis(settings.handshakeTimeoutMillis());
      ssl.handshakeFuture()
          .addListener(future -> {
            if (!future.isSuccess()) {
              metrics.connectionClosed("tls_handshake");
              tls.handshakeFailed(future.cause());
            }
          });
      channel.pipeline().addLast("tls", ssl);
    }
    channel
        .pipeline()
        .addLast("decoder", new PeerFrameCodec.Decoder(HANDSHAKE_FRAME_SIZE_BYTES_MAX))
        .addLast("encoder", new PeerFrameCodec.Encoder())
        .addLast("peer", new PeerChannelHandler(this, dialedPeerId));
  }

  private void drainPending(PeerLink link) {
    Channel channel = link.channel;
    if (channel == null) {
      return;
    }
    boolean wrote = false;
    PeerFrame frame;
    while (channel.isWritable() && (frame = link.pending.poll()) != null) {
      link.pendingCount.decrementAndGet();
      channel.write(frame, channel.voidPromise());
      metrics.framesSent.increment();
      wrote = true;
    }
    if (wrote) {
      channel.flush();
    }
  }

  void notifyHandler(Runnable call) {
    try {
      call.run();
    } catch (RuntimeException e) {
      metrics.handlerErrors.increment();
      log.error("node {}: peer message handler failed", settings.nodeId(), e);
    }
  }

  private WriteBufferWaterMark waterMark() {
    int high = settings.writeBufferBytesHigh();
    return new WriteBufferWaterMark(high / 2, high);
  }

  /** Counters of the peer transport, exported with the node's metrics. */
  static final class PeerTransportMetrics {
    private final MeterRegistry registry;
    final Counter framesSent;
    final Counter framesReceived;
    final Counter dialFailures;
    final Counter handlerErrors;

    PeerTransportMetrics(MeterRegistry registry) {
      this.registry = registry;
      framesSent = counter("ringkv.peer.frames.sent", "frames written to peer connections");
      framesReceived = counter("ringkv.peer.frames.received", "frames received from peers");
      dialFailures = counter("ringkv.peer.dial.failures", "failed attempts to dial a peer");
      handlerErrors =
          counter("ringkv.peer.handler.errors", "exceptions thrown by the peer message handler");
    }

    private Counter counter(String name, String description, String... tags) {
      return Counter.builder(name).description(description).tags(tags).register(registry);
    }

    void dropped(String reason) {
      counter("ringkv.peer.frames.dropped", "frames not sent, by reason", "reason", reason)
          .increment();
    }

    void connectionClosed(String reason) {
      counter(
              "ringkv.peer.connections.closed",
              "peer connections closed by this node, by reason",
              "reason",
              reason)
          .increment();
    }

    void connected(boolean outbound) {
      counter(
              "ringkv.peer.connections.established",
              "peer connections that completed the handshake",
              "direction",
              outbound ? "out" : "in")
          .increment();
    }
  }
}
