package io.ringkv.server.raft;

import io.ringkv.proto.internal.GroupRaftMessage;
import io.ringkv.proto.internal.RaftBatch;
import io.ringkv.raft.Message;
import io.ringkv.raft.MessageType;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.IntFunction;

/**
 * Outgoing Raft messages of every group, gathered per peer node and sent as RaftBatch frames.
 * Driver thread only.
 *
 * <p>Messages of one phase (before persistence, or after it) are gathered with {@link #add} and
 * sent by {@link #flush}: at most one frame per phase and peer, split only past the frame budget,
 * so the heartbeats of all groups two nodes share travel in one frame per tick. A frame the
 * transport does not take is counted and reported to every group that had a message in it, so their
 * cores stop pipelining to that peer. Snapshots never go into a frame: they go to the snapshot
 * shipper, which streams them in chunks.
 */
final class PeerOutbox {
  /** Bytes counted per message beyond its own size: the element's tag and length prefix. */
  private static final long FRAME_ELEMENT_OVERHEAD_BYTES = 6;

  private final long frameSizeBytesMax;
  private final MultiRaftDriver.PeerSender sender;
  private final MultiRaftDriver.SnapshotShipper shipper;
  private final IntFunction<GroupReplica> replicas;
  private final ReplicaGuard guard;
  private final DriverMetrics metrics;

  private final Map<Long, RaftBatch.Builder> batches = new HashMap<>();
  private final Map<Long, Long> sizes = new HashMap<>();
  private final Map<Long, Set<Integer>> groupsPerPeer = new HashMap<>();

  /** Frames that reached the frame budget during {@link #add}, not sent yet. */
  private final List<Frame> full = new ArrayList<>();

  PeerOutbox(
      long frameSizeBytesMax,
      MultiRaftDriver.PeerSender sender,
      MultiRaftDriver.SnapshotShipper shipper,
      IntFunction<GroupReplica> replicas,
      ReplicaGuard guard,
      DriverMetrics metrics) {
    this.frameSizeBytesMax = frameSizeBytesMax;
    this.sender = sender;
    this.shipper = shipper;
    this.replicas = replicas;
    this.guard = guard;
    this.metrics = metrics;
  }

  /** Gathers {@code messages} of {@code replica}; snapshots go to the shipper at once. */
  void add(GroupReplica replica, List<Message> messages) {
    for (Message message : messages) {
      if (message.type() == MessageType.SNAPSHOT) {
        shipper.ship(replica.partition, message, replica.store);
        metrics.snapshotsSent.increment();
      } else {
        add(message.to(), replica.partition, message);
      }
    }
  }

  private void add(long toNodeId, int partition, Message message) {
    GroupRaftMessage grouped =
        GroupRaftMessage.newBuilder()
            .setGroupId(partition)
            .setMessage(RaftMessageCodec.encode(message))
            .build();
    RaftBatch.Builder batch = batches.computeIfAbsent(toNodeId, id -> RaftBatch.newBuilder());
    // Running size instead of re-serializing the frame for every message.
    long size = grouped.getSerializedSize() + FRAME_ELEMENT_OVERHEAD_BYTES;
    long total = sizes.getOrDefault(toNodeId, 0L);
    if (batch.getMessagesCount() > 0 && total + size > frameSizeBytesMax) {
      full.add(new Frame(toNodeId, batch.build(), groupsPerPeer.remove(toNodeId)));
      batch.clear();
      total = 0;
    }
    batch.addMessages(grouped);
    sizes.put(toNodeId, total + size);
    groupsPerPeer.computeIfAbsent(toNodeId, id -> new LinkedHashSet<>()).add(partition);
  }

  /** Sends what was gathered since the last flush. */
  void flush() {
    reportNotSent(send(prepare()));
  }

  /**
   * The frames gathered since the last flush, built and not sent, for {@link #send} to send later
   * (from any thread); the outbox is empty afterwards. Snapshots went to the shipper in {@link
   * #add}, so a caller that must hold messages back gives only messages that are not snapshots.
   */
  List<Frame> prepare() {
    List<Frame> frames = new ArrayList<>(full);
    full.clear();
    for (Map.Entry<Long, RaftBatch.Builder> entry : batches.entrySet()) {
      if (entry.getValue().getMessagesCount() > 0) {
        long toNodeId = entry.getKey();
        frames.add(
            new Frame(
                toNodeId,
                entry.getValue().build(),
                groupsPerPeer.getOrDefault(toNodeId, Set.of())));
      }
    }
    batches.clear();
    sizes.clear();
    groupsPerPeer.clear();
    return frames;
  }

  /** Any thread: hands {@code frames} to the transport; returns those it did not take. */
  List<Frame> send(List<Frame> frames) {
    List<Frame> notSent = List.of();
    for (Frame frame : frames) {
      if (!sender.sendRaftBatch(frame.toNodeId(), frame.batch())) {
        if (notSent.isEmpty()) {
          notSent = new ArrayList<>();
        }
        notSent.add(frame);
      }
    }
    return notSent;
  }

  /**
   * Driver thread: counts the frames the transport did not take and tells every group that had a
   * message in one, so its core stops pipelining to that peer.
   */
  void reportNotSent(List<Frame> notSent) {
    for (Frame frame : notSent) {
      metrics.dropped(DriverMetrics.DropReason.FRAME_NOT_SENT);
      for (int partition : frame.groups()) {
        GroupReplica replica = replicas.apply(partition);
        if (replica != null) {
          guard.run(replica, () -> replica.raw.reportUnreachable(frame.toNodeId()));
        }
      }
    }
  }

  /**
   * One RaftBatch frame for one peer, and the groups that have a message in it (the outbox's own
   * set, handed over: the outbox starts a new one for the next frame, so no copy is made).
   */
  record Frame(long toNodeId, RaftBatch batch, Set<Integer> groups) {}
}
