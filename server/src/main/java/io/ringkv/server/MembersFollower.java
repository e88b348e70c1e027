package io.ringkv.server;

import io.ringkv.proto.internal.ClusterMap;
import io.ringkv.proto.internal.ClusterMember;
import io.ringkv.server.config.Member;
import io.ringkv.server.membership.ClusterMapStart;
import io.ringkv.server.snapshot.SnapshotTransfers;
import io.ringkv.server.transport.PeerTransport;
import java.util.HashSet;
import java.util.Set;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps this node's connections in step with the cluster map's members: a member the map adds is
 * dialed (peer transport), may send snapshots, and gets a forwarding channel; a member whose
 * address changed is reconnected; a REMOVED member is cut off and its handshakes refused, so a late
 * message from it is never delivered. Runs on the thread that adopts a map, in epoch order.
 */
final class MembersFollower implements Consumer<ClusterMap> {
  private static final Logger log = LoggerFactory.getLogger(MembersFollower.class);

  private final long selfNodeId;
  private final PeerTransport transport;
  private final SnapshotTransfers snapshotTransfers;
  private final PeerChannels peerChannels;
  private final Set<Long> known = new HashSet<>();

  MembersFollower(
      long selfNodeId,
      PeerTransport transport,
      SnapshotTransfers snapshotTransfers,
      PeerChannels peerChannels) {
    this.selfNodeId = selfNodeId;
    this.transport = transport;
    this.snapshotTransfers = snapshotTransfers;
    this.peerChannels = peerChannels;
  }

  @Override
  public synchronized void accept(ClusterMap map) {
    Set<Long> peers = new HashSet<>();
    for (ClusterMember member : map.getMembersList()) {
      long id = member.getNodeId();
      if (id == selfNodeId) {
        continue;
      }
      if (member.getState() == ClusterMember.State.REMOVED) {
        if (known.remove(id) || !transport.isConnected(id)) {
          log.info("node {} is REMOVED in map epoch {}: refusing it", id, map.getEpoch());
        }
        transport.refusePeer(id);
        continue;
      }
      Member peer = ClusterMapStart.member(member);
      if (known.add(id)) {
        log.info("node {} is a member in map epoch {}: connecting", id, map.getEpoch());
      }
      transport.setPeer(id, peer.peerAddress().toSocketAddress());
      peers.add(id);
    }
    snapshotTransfers.setPeers(peers);
  }
}
