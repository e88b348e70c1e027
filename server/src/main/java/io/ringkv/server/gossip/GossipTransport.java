package io.ringkv.server.gossip;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.DatagramPacket;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.handler.codec.LengthFieldPrepender;
import io.netty.handler.timeout.ReadTimeoutHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.ringkv.gossip.GossipCore;
import io.ringkv.gossip.MemberEvent;
import io.ringkv.gossip.MemberView;
import io.ringkv.gossip.Message;
import io.ringkv.gossip.Packet;
import io.ringkv.gossip.WireLimits;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.random.RandomGenerator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one node's {@link GossipCore} on one Netty event loop: a timer ticks it, a UDP socket on the
 * node's own address carries its datagrams, and push-pull travels as one length-prefixed envelope
 * each way over a short TCP connection to the peer's gossip port + 1. The core is touched only on
 * that loop's thread, so it needs no lock. Every drop is counted by reason.
 *
 * <p>With a gossip key, every datagram and push-pull envelope is sealed by {@link GossipCipher}
 * after encoding and opened before decoding: a packet no key opens is counted as unauthenticated
 * and never reaches the decoder, so a forged or plaintext packet cannot change this node's view.
 */
public final class GossipTransport implements AutoCloseable {
  public static final int PUSH_PULL_PORT_OFFSET = 1;

  /** A push-pull envelope holds the whole member list; beyond this the frame is refused. */
  public static final int PUSH_PULL_FRAME_BYTES_MAX = 8 << 20;

  public static final int PUSH_PULL_TIMEOUT_SECONDS = 5;

  private static final Logger log = LoggerFactory.getLogger(GossipTransport.class);

  /** Transport counters, by what happened to a packet. */
  public record TransportCounters(
      long datagramsSent,
      long datagramsReceived,
      long foreignClusterDropped,
      long malformedDropped,
      long oversizeDropped,
      long pushPullsCompleted,
      long pushPullsFailed,
      long unauthenticatedDropped) {}

  private final GossipTransportSettings settings;
  private final GossipCore core;
  private final GossipWireCodec codec;

  /** Null when gossip is plaintext (no key file). */
  private final GossipCipher cipher;

  private final Consumer<MemberEvent> eventListener;
  private final EventLoopGroup loop;
  private final AtomicLong datagramsSent = new AtomicLong();
  private final AtomicLong datagramsReceived = new AtomicLong();
  private final AtomicLong foreignClusterDropped = new AtomicLong();
  private final AtomicLong malformedDropped = new AtomicLong();
  private final AtomicLong oversizeDropped = new AtomicLong();
  private final AtomicLong pushPullsCompleted = new AtomicLong();
  private final AtomicLong pushPullsFailed = new AtomicLong();
  private final AtomicLong unauthenticatedDropped = new AtomicLong();
  private volatile GossipStatus latest;
  private Channel datagramChannel;
  private Channel pushPullServer;

  /** Plaintext gossip. */
  public GossipTransport(
      GossipTransportSettings settings,
      RandomGenerator random,
      Consumer<MemberEvent> eventListener) {
    this(settings, random, eventListener, null);
  }

  /**
   * @param cipher seals and opens every packet; null for plaintext gossip
   */
  GossipTransport(
      GossipTransportSettings settings,
      RandomGenerator random,
      Consumer<MemberEvent> eventListener,
      GossipCipher cipher) {
    this.settings = settings;
    this.cipher = cipher;
    this.core = new GossipCore(settings.memberId(), settings.address(), settings.gossip(), random);
    this.codec = new GossipWireCodec(settings.clusterId());
    this.eventListener = eventListener;
    this.latest = new GossipStatus(List.of(), 0, core.counters(), transportCounters());
    this.loop =
        new MultiThreadIoEventLoopGroup(
            1,
            new DefaultThreadFactory("ringkv-gossip-" + settings.memberId(), true),
            NioIoHandler.newFactory());
  }

  /** Binds both sockets, starts ticking and asks the seeds for their member lists. */
  public GossipTransport start() throws InterruptedException {
    datagramChannel =
        new Bootstrap()
            .group(loop)
            .channel(NioDatagramChannel.class)
            .handler(
                new SimpleChannelInboundHandler<DatagramPacket>() {
                  @Override
                  protected void channelRead0(
                      ChannelHandlerContext context, DatagramPacket packet) {
                    onDatagram(ByteBufUtil.getBytes(packet.content()));
                  }
                })
            .bind(settings.host(), settings.port())
            .sync()
            .channel();
    pushPullServer =
        new ServerBootstrap()
            .group(loop)
            .channel(NioServerSocketChannel.class)
            .option(ChannelOption.SO_REUSEADDR, true)
            .childHandler(
                new ChannelInitializer<SocketChannel>() {
                  @Override
                  protected void initChannel(SocketChannel channel) {
                    framed(channel, new PushPullServerHandler());
                  }
                })
            .bind(settings.host(), settings.port() + PUSH_PULL_PORT_OFFSET)
            .sync()
            .channel();
    long tickMillis = settings.gossip().tickMillis();
    loop.scheduleAtFixedRate(this::tick, tickMillis, tickMillis, TimeUnit.MILLISECONDS);
    loop.execute(() -> {
      core.join(settings.seedAddresses());
      flush(null, null);
    });
    log.info(
        "gossip of {} (cluster {}) on {}/udp and push-pull on port {}/tcp, {}",
        settings.memberId(),
        settings.clusterId(),
        settings.address(),
        settings.port() + PUSH_PULL_PORT_OFFSET,
        cipher == null ? "plaintext" : "encrypted");
    return this;
  }

  /** This node's view, read on the gossip thread. */
  public CompletableFuture<GossipStatus> status() {
    CompletableFuture<GossipStatus> result = new CompletableFuture<>();
    loop.execute(() -> result.complete(statusNow()));
    return result;
  }

  /**
   * The status as of the last tick, for metrics: readable from any thread without waiting for the
   * gossip thread.
   */
  public GossipStatus latestStatus() {
    return latest;
  }

  /** Tells the cluster whether this node counts itself slow (spread with a new incarnation). */
  public void setDegraded(boolean degraded) {
    loop.execute(() -> core.setDegraded(degraded));
  }

  /** Announces that this node leaves; close the transport a few gossip rounds later. */
  public void leave() {
    loop.execute(() -> {
      core.leave();
      flush(null, null);
    });
  }

  public TransportCounters transportCounters() {
    return new TransportCounters(
        datagramsSent.get(),
        datagramsReceived.get(),
        foreignClusterDropped.get(),
        malformedDropped.get(),
        oversizeDropped.get(),
        pushPullsCompleted.get(),
        pushPullsFailed.get(),
        unauthenticatedDropped.get());
  }

  @Override
  public void close() {
    // Close the sockets first and wait, so the addresses are free when close() returns.
    for (Channel channel : new Channel[] {datagramChannel, pushPullServer}) {
      if (channel != null) {
        channel.close().syncUninterruptibly();
      }
    }
    loop.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
  }

  private GossipStatus statusNow() {
    long tickMillis = settings.gossip().tickMillis();
    List<GossipStatus.Member> members = new ArrayList<>();
    for (MemberView view : core.members()) {
      long since = view.lastHeardTick() < 0 ? -1 : (core.now() - view.lastHeardTick()) * tickMillis;
      members.add(new GossipStatus.Member(view, since));
    }
    return new GossipStatus(members, core.localHealthScore(), core.counters(), transportCounters());
  }

  private void tick() {
    try {
      core.tick();
      flush(null, null);
      latest = statusNow();
    } catch (RuntimeException e) {
      // A broken invariant is a bug: say so loudly, but keep the node's other work running.
      log.error("gossip tick failed", e);
    }
  }

  private void onDatagram(byte[] bytes) {
    datagramsReceived.incrementAndGet();
    Packet packet = decoded(bytes);
    if (packet == null || packet.message().reliable()) {
      return;
    }
    core.receive(packet);
    flush(null, null);
  }

  private Packet decoded(byte[] received) {
    byte[] bytes = cipher == null ? received : cipher.open(received);
    if (bytes == null) {
      unauthenticatedDropped.incrementAndGet();
      return null;
    }
    GossipWireCodec.Decoded decoded = codec.decode(bytes, settings.address());
    if (decoded.dropReason() == GossipWireCodec.DropReason.FOREIGN_CLUSTER) {
      foreignClusterDropped.incrementAndGet();
    } else if (decoded.dropReason() != null) {
      malformedDropped.incrementAndGet();
    }
    return decoded.packet();
  }

  /**
   * Sends what the core produced. A push-pull response to {@code replyTo} goes back on {@code
   * replyChannel} (the connection its request came on); other push-pulls dial the peer.
   */
  private void flush(Channel replyChannel, String replyTo) {
    for (Packet packet : core.drainOutgoing()) {
      if (!packet.message().reliable()) {
        sendDatagram(packet);
      } else if (replyChannel != null
          && packet.message() instanceof Message.PushPull pushPull
          && pushPull.response()
          && packet.toAddress().equals(replyTo)) {
        replyChannel
            .writeAndFlush(Unpooled.wrappedBuffer(encoded(packet)))
            .addListener(ChannelFutureListener.CLOSE);
      } else {
        dialPushPull(packet);
      }
    }
    for (MemberEvent event : core.drainEvents()) {
      log.info("gossip of {}: {}", settings.memberId(), event);
      eventListener.accept(event);
    }
  }

  private void sendDatagram(Packet packet) {
    byte[] bytes = encoded(packet);
    if (bytes.length > WireLimits.PACKET_BYTES_MAX) {
      // The core packs within WireLimits' bounds, so this is a bug; drop rather than fragment.
      oversizeDropped.incrementAndGet();
      log.error("gossip datagram of {} bytes dropped: {}", bytes.length, packet.message());
      return;
    }
    datagramsSent.incrementAndGet();
    datagramChannel.writeAndFlush(
        new DatagramPacket(Unpooled.wrappedBuffer(bytes), socketAddress(packet.toAddress(), 0)));
  }

  private void dialPushPull(Packet request) {
    byte[] bytes = encoded(request);
    new Bootstrap()
        .group(loop)
        .channel(NioSocketChannel.class)
        .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, PUSH_PULL_TIMEOUT_SECONDS * 1_000)
        .handler(
            new ChannelInitializer<SocketChannel>() {
              @Override
              protected void initChannel(SocketChannel channel) {
                framed(channel, new PushPullClientHandler(bytes));
              }
            })
        .connect(
            socketAddress(request.toAddress(), PUSH_PULL_PORT_OFFSET),
            new InetSocketAddress(settings.host(), 0))
        .addListener(future -> {
          if (!future.isSuccess()) {
            pushPullsFailed.incrementAndGet();
          }
        });
  }

  /** The packet as it goes on the wire: encoded, then sealed when there is a key. */
  private byte[] encoded(Packet packet) {
    byte[] bytes = codec.encode(packet);
    return cipher == null ? bytes : cipher.seal(bytes);
  }

  private static void framed(SocketChannel channel, SimpleChannelInboundHandler<ByteBuf> handler) {
    channel
        .pipeline()
        .addLast(new ReadTimeoutHandler(PUSH_PULL_TIMEOUT_SECONDS))
        .addLast(new LengthFieldBasedFrameDecoder(PUSH_PULL_FRAME_BYTES_MAX, 0, 4, 0, 4))
        .addLast(new LengthFieldPrepender(4))
        .addLast(handler);
  }

  private static InetSocketAddress socketAddress(String address, int portOffset) {
    int colon = address.lastIndexOf(':');
    if (colon <= 0) {
      throw new IllegalArgumentException("gossip address must be host:port, was " + address);
    }
    int port = Integer.parseInt(address.substring(colon + 1)) + portOffset;
    return new InetSocketAddress(address.substring(0, colon), port);
  }

  /** Accepts one push-pull request and answers it on the same connection. */
  private final class PushPullServerHandler extends SimpleChannelInboundHandler<ByteBuf> {
    @Override
    protected void channelRead0(ChannelHandlerContext context, ByteBuf frame) {
      Packet packet = decoded(ByteBufUtil.getBytes(frame));
      if (packet == null
          || !(packet.message() instanceof Message.PushPull pushPull)
          || pushPull.response()) {
        context.close();
        return;
      }
      pushPullsCompleted.incrementAndGet();
      core.receive(packet);
      flush(context.channel(), packet.fromAddress());
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext context, Throwable cause) {
      context.close();
    }
  }

  /** Sends one push-pull request and hands the answer to the core. */
  private final class PushPullClientHandler extends SimpleChannelInboundHandler<ByteBuf> {
    private final byte[] request;

    PushPullClientHandler(byte[] request) {
      this.request = request;
    }

    @Override
    public void channelActive(ChannelHandlerContext context) {
      context.writeAndFlush(Unpooled.wrappedBuffer(request));
    }

    @Override
    protected void channelRead0(ChannelHandlerContext context, ByteBuf frame) {
      Packet packet = decoded(ByteBufUtil.getBytes(frame));
      context.close();
      if (packet != null
          && packet.message() instanceof Message.PushPull pushPull
          && pushPull.response()) {
        pushPullsCompleted.incrementAndGet();
        core.receive(packet);
        flush(null, null);
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext context, Throwable cause) {
      pushPullsFailed.incrementAndGet();
      context.close();
    }
  }
}
