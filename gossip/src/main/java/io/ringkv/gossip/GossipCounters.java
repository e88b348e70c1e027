package io.ringkv.gossip;

/**
 * Running totals of one member's gossip work, for metrics.
 *
 * @param probes direct probes sent
 * @param indirectProbes ping requests sent to helpers
 * @param nacksSent nacks sent as a helper whose target stayed silent
 * @param suspicions members this member suspected itself (after a failed probe)
 * @param refutations suspicions or death notices about this member that it refuted
 * @param declaredDead members whose suspicion timed out here
 * @param broadcastOverflow updates dropped because the broadcast queue was full
 * @param relaysDropped ping requests refused because too many were already in flight
 */
public record GossipCounters(
    long probes,
    long indirectProbes,
    long nacksSent,
    long suspicions,
    long refutations,
    long declaredDead,
    long broadcastOverflow,
    long relaysDropped) {}
