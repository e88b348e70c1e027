package io.ringkv.server.snapshot;

import io.micrometer.core.instrument.MeterRegistry;
import io.ringkv.proto.internal.Heartbeats;
import io.ringkv.proto.internal.RaftBatch;
import io.ringkv.proto.internal.SnapshotChunk;
import io.ringkv.proto.internal.SnapshotChunkAck;
import io.ringkv.raft.Message;
import io.ringkv.server.transport.PeerMessageHandler;
import io.ringkv.storage.PartitionStore;
import java.time.Clock;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * Chunked snapshot transfer of one node: the sending side ({@link SnapshotSender}) for partitions
 * this node leads and the receiving side ({@link SnapshotReceiver}) for the others.
 *
 * <p>It sits in front of the Raft driver on the peer transport: snapshot frames are handled here,
 * everything else goes on to {@code next}. The driver hands each MSG_SNAP to {@link #ship} and
 * hears back through {@link RaftSnapshotPort}. A MSG_SNAP inside an ordinary RaftBatch is never
 * accepted by the driver: the only way in is a complete, verified transfer.
 */
public final class SnapshotTransfers implements PeerMessageHandler, AutoCloseable {
  private final PeerMessageHandler next;
  private final SnapshotSender sender;
  private final SnapshotReceiver receiver;

  /**
   * @param peers the node ids this node accepts snapshots from (the other members)
   * @param firstTransferId start of this node's transfer ids (random, so a restarted node's ids do
   *     not repeat those of its previous run)
   */
  public SnapshotTransfers(
      long nodeId,
      Set<Long> peers,
      SnapshotTransferSettings settings,
      ChunkSender transport,
      RaftSnapshotPort raft,
      PeerMessageHandler next,
      Clock clock,
      long firstTransferId,
      MeterRegistry registry) {
    this.next = next;
    this.sender = new SnapshotSender(settings, transport, raft, clock, firstTransferId, registry);
    this.receiver = new SnapshotReceiver(nodeId, peers, settings, transport, raft, clock, registry);
  }

  /**
   * Caps the snapshot bytes per second this node sends, all transfers together (setting {@code
   * rebalance-bytes-per-second-max}); a burst of one chunk goes at once.
   */
  public void limitSendRate(long bytesPerSecondMax, LongSupplier nanoTime) {
    sender.limitRate(bytesPerSecondMax, nanoTime);
  }

  /** The node ids snapshots are accepted from from now on (the cluster map's other members). */
  public void setPeers(Set<Long> peers) {
    receiver.setPeers(peers);
  }

  /** Starts sending {@code message} (a MSG_SNAP of {@code partition}); returns at once. */
  public void ship(int partition, Message message, PartitionStore store) {
    sender.ship(partition, message, store);
  }

  @Override
  public void onSnapshotChunk(long fromNodeId, SnapshotChunk chunk) {
    receiver.onChunk(fromNodeId, chunk);
  }

  @Override
  public void onSnapshotChunkAck(long fromNodeId, SnapshotChunkAck ack) {
    sender.onAck(fromNodeId, ack);
  }

  @Override
  public void onRaftBatch(long fromNodeId, RaftBatch batch) {
    next.onRaftBatch(fromNodeId, batch);
  }

  @Override
  public void onHeartbeats(long fromNodeId, Heartbeats heartbeats) {
    next.onHeartbeats(fromNodeId, heartbeats);
  }

  @Override
  public void onPeerConnected(long nodeId) {
    next.onPeerConnected(nodeId);
  }

  @Override
  public void onPeerDisconnected(long nodeId) {
    next.onPeerDisconnected(nodeId);
  }

  @Override
  public void close() {
    sender.close();
    receiver.close();
  }
}
