package io.ringkv.server.gossip;

import io.ringkv.gossip.GossipSettings;
import java.util.List;

/**
 * Where a node's gossip listens and whom it asks first. Datagrams use {@code host:port} (the peer
 * port, 7380/udp by default); push-pull uses TCP on {@code port + 1}, since the peer port's TCP
 * side belongs to the Raft transport. Outgoing connections and datagrams leave from {@code host},
 * so iptables rules between node addresses catch them.
 */
public record GossipTransportSettings(
    String clusterId,
    String memberId,
    String host,
    int port,
    List<String> seedAddresses,
    GossipSettings gossip) {
  public static final int PORT_DEFAULT = 7380;

  public GossipTransportSettings {
    if (clusterId == null || clusterId.isEmpty()) {
      throw new IllegalArgumentException("gossip needs a cluster id");
    }
    if (port < 1 || port > 65_534) {
      throw new IllegalArgumentException(
          "gossip port must be 1 to 65534 (push-pull uses port + 1), was " + port);
    }
    seedAddresses = List.copyOf(seedAddresses);
  }

  /** This node's gossip address as members know it. */
  public String address() {
    return host + ":" + port;
  }
}
