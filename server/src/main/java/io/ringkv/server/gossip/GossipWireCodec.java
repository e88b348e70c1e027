package io.ringkv.server.gossip;

import com.google.protobuf.InvalidProtocolBufferException;
import io.ringkv.gossip.MemberState;
import io.ringkv.gossip.Message;
import io.ringkv.gossip.Packet;
import io.ringkv.gossip.Update;
import io.ringkv.proto.internal.GossipAck;
import io.ringkv.proto.internal.GossipEnvelope;
import io.ringkv.proto.internal.GossipNack;
import io.ringkv.proto.internal.GossipPing;
import io.ringkv.proto.internal.GossipPingRequest;
import io.ringkv.proto.internal.GossipPushPull;
import io.ringkv.proto.internal.GossipUpdate;
import io.ringkv.proto.internal.GossipUpdates;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns the gossip core's packets into protobuf envelopes stamped with the cluster id, and back.
 * Decoding rejects envelopes of another cluster and malformed ones with a reason the transport
 * counts; the core's own checks (id and address lengths) reject the rest.
 */
final class GossipWireCodec {
  /** Why an inbound envelope was dropped. */
  enum DropReason {
    MALFORMED,
    FOREIGN_CLUSTER
  }

  /** A decoded packet, or the reason it was dropped. */
  record Decoded(Packet packet, DropReason dropReason) {}

  private final String clusterId;

  GossipWireCodec(String clusterId) {
    this.clusterId = clusterId;
  }

  byte[] encode(Packet packet) {
    GossipEnvelope.Builder envelope =
        GossipEnvelope.newBuilder()
            .setClusterId(clusterId)
            .setFromId(packet.fromId())
            .setFromAddress(packet.fromAddress());
    switch (packet.message()) {
      case Message.Ping ping ->
          envelope.setPing(
              GossipPing.newBuilder().setSequence(ping.sequence()).setTargetId(ping.targetId()));
      case Message.Ack ack -> envelope.setAck(GossipAck.newBuilder().setSequence(ack.sequence()));
      case Message.Nack nack ->
          envelope.setNack(GossipNack.newBuilder().setSequence(nack.sequence()));
      case Message.PingRequest request ->
          envelope.setPingRequest(
              GossipPingRequest.newBuilder()
                  .setSequence(request.sequence())
                  .setTargetId(request.targetId())
                  .setTargetAddress(request.targetAddress()));
      case Message.Gossip gossip -> envelope.setUpdatesOnly(GossipUpdates.getDefaultInstance());
      case Message.PushPull pushPull ->
          envelope.setPushPull(GossipPushPull.newBuilder().setResponse(pushPull.response()));
    }
    for (Update update : packet.message().updates()) {
      envelope.addUpdates(
          GossipUpdate.newBuilder()
              .setMemberId(update.memberId())
              .setAddress(update.address())
              .setState(GossipUpdate.State.forNumber(update.state().ordinal() + 1))
              .setIncarnation(update.incarnation())
              .setFromId(update.fromId())
              .setDegraded(update.degraded()));
    }
    return envelope.build().toByteArray();
  }

  /** Decodes an envelope received from the network, addressed to {@code localAddress}. */
  Decoded decode(byte[] bytes, String localAddress) {
    GossipEnvelope envelope;
    try {
      envelope = GossipEnvelope.parseFrom(bytes);
    } catch (InvalidProtocolBufferException e) {
      return new Decoded(null, DropReason.MALFORMED);
    }
    if (!envelope.getClusterId().equals(clusterId)) {
      return new Decoded(null, DropReason.FOREIGN_CLUSTER);
    }
    try {
      List<Update> updates = new ArrayList<>(envelope.getUpdatesCount());
      for (GossipUpdate update : envelope.getUpdatesList()) {
        updates.add(
            new Update(
                update.getMemberId(),
                update.getAddress(),
                state(update.getState()),
                update.getIncarnation(),
                update.getFromId(),
                update.getDegraded()));
      }
      Message message = message(envelope, updates);
      if (message == null) {
        return new Decoded(null, DropReason.MALFORMED);
      }
      return new Decoded(
          new Packet(envelope.getFromId(), envelope.getFromAddress(), localAddress, message), null);
    } catch (IllegalArgumentException | IllegalStateException e) {
      // Out-of-range ids, addresses or states: the core's records refuse them.
      return new Decoded(null, DropReason.MALFORMED);
    }
  }

  private static Message message(GossipEnvelope envelope, List<Update> updates) {
    return switch (envelope.getBodyCase()) {
      case PING ->
          new Message.Ping(
              envelope.getPing().getSequence(), envelope.getPing().getTargetId(), updates);
      case ACK -> new Message.Ack(envelope.getAck().getSequence(), updates);
      case NACK -> new Message.Nack(envelope.getNack().getSequence(), updates);
      case PING_REQUEST ->
          new Message.PingRequest(
              envelope.getPingRequest().getSequence(),
              envelope.getPingRequest().getTargetId(),
              envelope.getPingRequest().getTargetAddress(),
              updates);
      case UPDATES_ONLY -> new Message.Gossip(updates);
      case PUSH_PULL -> new Message.PushPull(envelope.getPushPull().getResponse(), updates);
      case BODY_NOT_SET -> null;
    };
  }

  private static MemberState state(GossipUpdate.State state) {
    return switch (state) {
      case ALIVE -> MemberState.ALIVE;
      case SUSPECT -> MemberState.SUSPECT;
      case DEAD -> MemberState.DEAD;
      case LEFT -> MemberState.LEFT;
      case STATE_UNSPECIFIED, UNRECOGNIZED ->
          throw new IllegalArgumentException("gossip update without a known state");
    };
  }
}
