package io.ringkv.server.gossip;

import io.ringkv.gossip.GossipCounters;
import io.ringkv.gossip.MemberView;
import java.util.List;

/**
 * One node's gossip view at one moment, for the Cluster API and metrics: every member with its
 * state and incarnation, milliseconds since this node last heard from it (-1 if never), this node's
 * Lifeguard health score (0 is healthy), and counters of the core and the transport.
 */
public record GossipStatus(
    List<Member> members,
    int localHealthScore,
    GossipCounters counters,
    GossipTransport.TransportCounters transport) {

  /** One member as seen by the answering node. */
  public record Member(MemberView view, long millisSinceHeard) {}
}
