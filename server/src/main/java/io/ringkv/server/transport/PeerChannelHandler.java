package io.ringkv.server.transport;

import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.timeout.IdleState;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.ScheduledFuture;
import io.ringkv.proto.internal.Handshake;
import io.ringkv.proto.internal.HandshakeAck;
import io.ringkv.proto.internal.HandshakeReject;
import io.ringkv.proto.internal.Keepalive;
import io.ringkv.proto.internal.PeerFrame;
import java.io.IOException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One peer connection's protocol: handshake (as dialer or acceptor), then delivery of Raft frames
 * to the {@link PeerMessageHandler}, keepalives, and closing on any protocol violation. All methods
 * run on the connection's event loop, so the fields need no synchronisation.
 */
final class PeerChannelHandler extends SimpleChannelInboundHandler<PeerFrame> {
  private static final Logger log = LoggerFactory.getLogger(PeerChannelHandler.class);
  private static final PeerFrame KEEPALIVE =
      PeerFrame.newBuilder().setKeepalive(Keepalive.getDefaultInstance()).build();

  private final PeerTransport transport;
  private final PeerTransportSettings settings;

  /** The node this connection was dialed to, or 0 for an accepted connection. */
  private final long dialedPeerId;

  private long peerId;
  private boolean active;
  private ScheduledFuture<?> handshakeTimeout;

  PeerChannelHandler(PeerTransport transport, long dialedPeerId) {
    this.transport = transport;
    this.settings = transport.settings();
    this.dialedPeerId = dialedPeerId;
  }

  private boolean outbound() {
    return dialedPeerId != 0;
  }

  @Override
  public void channelActive(ChannelHandlerContext context) {
    active = true;
    handshakeTimeout =
        context
            .executor()
            .schedule(
                () -> reject(context, "handshake_timeout", "no handshake in time"),
                settings.handshakeTimeoutMillis(),
                TimeUnit.MILLISECONDS);
    if (outbound()) {
      Handshake handshake =
          Handshake.newBuilder()
              .setClusterId(settings.clusterId())
              .setNodeId(settings.nodeId())
              .setTargetNodeId(dialedPeerId)
              .setProtocolVersion(PeerTransport.PROTOCOL_VERSION)
              .build();
      context.writeAndFlush(PeerFrame.newBuilder().setHandshake(handshake).build());
    }
    context.fireChannelActive();
  }

  @Override
  public void channelInactive(ChannelHandlerContext context) {
    if (handshakeTimeout != null) {
      handshakeTimeout.cancel(false);
    }
    if (active && (peerId != 0 || outbound())) {
      transport.detach(outbound() ? dialedPeerId : peerId, context.channel(), outbound());
    }
    context.fireChannelInactive();
  }

  @Override
  protected void channelRead0(ChannelHandlerContext context, PeerFrame frame) {
    if (peerId == 0) {
      if (outbound()) {
        onHandshakeAnswer(context, frame);
      } else {
        onHandshake(context, frame);
      }
      return;
    }
    transport.metrics.framesReceived.increment();
    switch (frame.getBodyCase()) {
      case RAFT_BATCH ->
          transport.notifyHandler(
              () -> transport.handler().onRaftBatch(peerId, frame.getRaftBatch()));
      case HEARTBEATS ->
          transport.notifyHandler(
              () -> transport.handler().onHeartbeats(peerId, frame.getHeartbeats()));
      case SNAPSHOT_CHUNK ->
          transport.notifyHandler(
              () -> transport.handler().onSnapshotChunk(peerId, frame.getSnapshotChunk()));
      case SNAPSHOT_CHUNK_ACK ->
          transport.notifyHandler(
              () -> transport.handler().onSnapshotChunkAck(peerId, frame.getSnapshotChunkAck()));
      case KEEPALIVE -> {}
      default -> reject(context, "malformed", "unexpected " + frame.getBodyCase() + " frame");
    }
  }

  /** Acceptor side: check the dialer's credentials, then ack or reject. */
  private void onHandshake(ChannelHandlerContext context, PeerFrame frame) {
    if (!frame.hasHandshake()) {
      reject(context, "malformed", "first frame is " + frame.getBodyCase() + ", not a handshake");
      return;
    }
    Handshake handshake = frame.getHandshake();
    HandshakeReject.Reason reason = null;
    String detail = null;
    if (!handshake.getClusterId().equals(settings.clusterId())) {
      reason = HandshakeReject.Reason.CLUSTER_MISMATCH;
      detail = "cluster '" + handshake.getClusterId() + "' is not '" + settings.clusterId() + "'";
    } else if (handshake.getProtocolVersion() != PeerTransport.PROTOCOL_VERSION) {
      reason = HandshakeReject.Reason.PROTOCOL_VERSION_UNSUPPORTED;
      detail = "protocol version " + handshake.getProtocolVersion() + " is not supported";
    } else if (handshake.getTargetNodeId() != settings.nodeId()) {
      reason = HandshakeReject.Reason.WRONG_NODE;
      detail = "this is node " + settings.nodeId() + ", not " + handshake.getTargetNodeId();
    } else if (handshake.getNodeId() <= 0 || transport.dialsTo(handshake.getNodeId())) {
      reason = HandshakeReject.Reason.WRONG_DIRECTION;
      detail = "node " + handshake.getNodeId() + " must not dial node " + settings.nodeId();
    } else if (transport.refuses(handshake.getNodeId())) {
      reason = HandshakeReject.Reason.WRONG_NODE;
      detail = "node " + handshake.getNodeId() + " was removed from the cluster";
    } else if (!transport.admits(handshake.getNodeId())) {
      reason = HandshakeReject.Reason.TOO_MANY_PEERS;
      detail = "more than " + PeerTransport.PEER_COUNT_MAX + " peers";
    }
    if (reason != null) {
      PeerFrame rejection =
          PeerFrame.newBuilder()
              .setHandshakeReject(HandshakeReject.newBuilder().setReason(reason).setDetail(detail))
              .build();
      context.writeAndFlush(rejection);
      reject(context, reason.name().toLowerCase(java.util.Locale.ROOT), detail);
      return;
    }
    HandshakeAck ack =
        HandshakeAck.newBuilder()
            .setClusterId(settings.clusterId())
            .setNodeId(settings.nodeId())
            .setProtocolVersion(PeerTransport.PROTOCOL_VERSION)
            .build();
    context.writeAndFlush(PeerFrame.newBuilder().setHandshakeAck(ack).build());
    established(context, handshake.getNodeId());
  }

  /** Dialer side: the acceptor must be the node and cluster we meant to reach. */
  private void onHandshakeAnswer(ChannelHandlerContext context, PeerFrame frame) {
    if (frame.hasHandshakeReject()) {
      HandshakeReject rejection = frame.getHandshakeReject();
      reject(
          context,
          "rejected_by_peer",
          "node "
              + dialedPeerId
              + " refused us: "
              + rejection.getReason()
              + " "
              + rejection.getDetail());
      return;
    }
    if (!frame.hasHandshakeAck()) {
      reject(context, "malformed", "expected a handshake answer, got " + frame.getBodyCase());
      return;
    }
    HandshakeAck ack = frame.getHandshakeAck();
    if (!ack.getClusterId().equals(settings.clusterId())) {
      reject(
          context,
          "cluster_mismatch",
          "peer answered for cluster '"
              + ack.getClusterId()
              + "', not '"
              + settings.clusterId()
              + "'");
    } else if (ack.getNodeId() != dialedPeerId) {
      reject(context, "wrong_node", "expected node " + dialedPeerId + ", found " + ack.getNodeId());
    } else if (ack.getProtocolVersion() != PeerTransport.PROTOCOL_VERSION) {
      reject(context, "protocol_version_unsupported", "version " + ack.getProtocolVersion());
    } else {
      established(context, dialedPeerId);
    }
  }

  private void established(ChannelHandlerContext context, long nodeId) {
    handshakeTimeout.cancel(false);
    peerId = nodeId;
    context
        .pipeline()
        .get(PeerFrameCodec.Decoder.class)
        .raiseFrameSizeBytesMax(settings.frameSizeBytesMax());
    long idle = settings.idleTimeoutMillis();
    context
        .pipeline()
        .addBefore("peer", "idle", new IdleStateHandler(idle, idle / 3, 0, TimeUnit.MILLISECONDS));
    transport.attach(nodeId, context.channel(), outbound());
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext context, Object event) {
    if (event instanceof IdleStateEvent idle) {
      if (idle.state() == IdleState.WRITER_IDLE) {
        context.writeAndFlush(KEEPALIVE, context.voidPromise());
      } else if (idle.state() == IdleState.READER_IDLE) {
        reject(context, "idle", "nothing received for " + settings.idleTimeoutMillis() + " ms");
      }
      return;
    }
    context.fireUserEventTriggered(event);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext context, Throwable cause) {
    Throwable root = cause;
    String reason;
    if (root instanceof PeerFrameCodec.FrameTooLargeException) {
      reason = "frame_too_large";
    } else if (root instanceof PeerFrameCodec.MalformedFrameException) {
      reason = "malformed";
    } else if (root instanceof IOException) {
      reason = "io_error";
    } else {
      reason = "error";
    }
    reject(context, reason, String.valueOf(root.getMessage()));
  }

  /** Closes this connection, counting and logging why; the transport itself carries on. */
  private void reject(ChannelHandlerContext context, String reason, String detail) {
    if (!context.channel().isOpen()) {
      return;
    }
    transport.metrics.connectionClosed(reason);
    String who =
        peerId != 0 ? "node " + peerId : outbound() ? "node " + dialedPeerId : "unidentified peer";
    boolean repeat = outbound() && peerId == 0 && transport.isRedialing(dialedPeerId);
    if (reason.equals("io_error") || repeat) {
      // Lost connections are routine, and a peer that keeps refusing us was reported already.
      log.atLevel(repeat ? org.slf4j.event.Level.DEBUG : org.slf4j.event.Level.INFO)
          .log(
              "node {}: connection to {} at {} closed: {} ({})",
              settings.nodeId(),
              who,
              context.channel().remoteAddress(),
              reason,
              detail);
    } else {
      log.warn(
          "node {}: closing connection to {} at {}: {} ({})",
          settings.nodeId(),
          who,
          context.channel().remoteAddress(),
          reason,
          detail);
    }
    // Let a pending rejection frame go out first; close regardless of whether that write works.
    context
        .writeAndFlush(io.netty.buffer.Unpooled.EMPTY_BUFFER)
        .addListener(ChannelFutureListener.CLOSE);
  }
}
