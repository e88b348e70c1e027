package io.ringkv.gossip;

/**
 * A member as the local member sees it, for status pages: {@code lastHeardTick} is the last tick a
 * packet from it was received (-1 if never); {@code degraded} is what the member last said of its
 * own health.
 */
public record MemberView(
    String memberId,
    String address,
    MemberState state,
    long incarnation,
    long lastHeardTick,
    boolean degraded) {}
