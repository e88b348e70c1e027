package io.ringkv.server.config;

import io.ringkv.routing.PartitionLayout;
import java.nio.file.Path;
import java.util.List;

/**
 * A node's validated configuration. Build it with {@link ConfigLoader}: every field here has
 * already been checked, alone and against the others.
 *
 * @param members the initial members, this node included, sorted by node id
 * @param leaderBalanceIntervalMillis period of leader balancing, 0 when off
 * @param debugUnsafeStaleReads UNSAFE testing switch: linearizable reads skip ReadIndex and are
 *     served by any replica from its applied state (only with allow-unsafe-debug)
 * @param debugUnsyncedWrites UNSAFE testing switch: storage writes are acknowledged without being
 *     written out of the process or fsynced (only with allow-unsafe-debug)
 * @param raftLogEngine where the node keeps Raft log entries and hard states (in a new store)
 * @param raftLogEngineSet whether raft-log-engine was set: then an existing store of the other
 *     engine is refused; left at its default, an existing store keeps the engine it was made with
 * @param changefeedRetentionCheckIntervalMillis period of the changefeed retention check
 * @param changefeedRetentionAgeMillis change records older than this are dropped by retention
 * @param snapshotSizeBytesMax largest partition snapshot this node sends or accepts (it travels in
 *     chunks, so the peer frame limit does not bound it)
 * @param sessionExpiryMillis a client write session idle longer than this (in the time of the
 *     commands, stamped by the proposing leader) expires
 * @param pipeline bounds of the write pipeline (apply queue, commit queue, Raft in-flight bytes)
 * @param gossip whether and how the node runs gossip
 * @param slowNode when the node counts itself slow and hands its leaderships away
 * @param watch bounds and timing of the changefeed streams (Watch)
 * @param tls TLS of the client and peer listeners and of connections to peers (or off)
 * @param diskQuotaBytes past this many bytes under the data directory the node refuses client
 *     writes that add data (0 = no quota)
 * @param membership how the node joins and how fast replicas move
 * @param auth the per-user request rate once auth is on
 */
public record NodeConfig(
    String clusterId,
    long nodeId,
    Path dataDir,
    HostPort clientAddress,
    HostPort peerAddress,
    HostPort metricsAddress,
    HostPort advertiseClientAddress,
    HostPort advertisePeerAddress,
    List<Member> members,
    int partitionCount,
    int replicationFactor,
    int virtualTokensPerNode,
    Limits limits,
    int raftTickMillis,
    io.ringkv.raft.Config.ReadOnlyMode raftReadOnlyMode,
    long logCompactionEntries,
    long leaderBalanceIntervalMillis,
    boolean debugUnsafeStaleReads,
    boolean debugUnsyncedWrites,
    io.ringkv.storage.RaftLogEngine raftLogEngine,
    boolean raftLogEngineSet,
    long changefeedRetentionCheckIntervalMillis,
    long changefeedRetentionAgeMillis,
    long snapshotSizeBytesMax,
    long sessionExpiryMillis,
    PipelineLimits pipeline,
    GossipConfig gossip,
    SlowNodeSettings slowNode,
    WatchLimits watch,
    MembershipSettings membership,
    TlsSettings tls,
    long diskQuotaBytes,
    AuthSettings auth) {
  public static final long SNAPSHOT_SIZE_BYTES_MAX_DEFAULT = 8L * 1024 * 1024 * 1024;

  /**
   * Ten minutes: far longer than any client retries one write (call deadlines are seconds), so a
   * retry never meets an expired session in practice, and short enough that the records of
   * short-lived clients are gone (after two expiries) within about twenty minutes. etcd's session
   * leases default to 60 s, but those are liveness leases a client keeps alive; ringkv's write
   * sessions are never kept alive explicitly, so they need the longer idle window.
   */
  public static final long SESSION_EXPIRY_MILLIS_DEFAULT = 10 * 60 * 1000L;

  /**
   * Off: a quota only makes sense against the operator's own disk size, which a default cannot
   * know; a node without one fails as before when the disk is full.
   */
  public static final long DISK_QUOTA_BYTES_DEFAULT = 0;

  public NodeConfig {
    members = List.copyOf(members);
  }

  /** A safe configuration (no debug switch, default retention and snapshot limit). */
  public NodeConfig(
      String clusterId,
      long nodeId,
      Path dataDir,
      HostPort clientAddress,
      HostPort peerAddress,
      HostPort metricsAddress,
      HostPort advertiseClientAddress,
      HostPort advertisePeerAddress,
      List<Member> members,
      int partitionCount,
      int replicationFactor,
      int virtualTokensPerNode,
      Limits limits,
      int raftTickMillis,
      long logCompactionEntries) {
    this(
        clusterId,
        nodeId,
        dataDir,
        clientAddress,
        peerAddress,
        metricsAddress,
        advertiseClientAddress,
        advertisePeerAddress,
        members,
        partitionCount,
        replicationFactor,
        virtualTokensPerNode,
        limits,
        raftTickMillis,
        io.ringkv.raft.Config.ReadOnlyMode.LEASE_BASED,
        logCompactionEntries,
        Long.parseLong(Setting.LEADER_BALANCE_INTERVAL_MILLIS.defaultValue()),
        false,
        false,
        io.ringkv.storage.RaftLogEngine.parse(Setting.RAFT_LOG_ENGINE.defaultValue()),
        false,
        Long.parseLong(Setting.CHANGEFEED_RETENTION_CHECK_INTERVAL_MILLIS.defaultValue()),
        Long.parseLong(Setting.CHANGEFEED_RETENTION_AGE_MILLIS.defaultValue()),
        SNAPSHOT_SIZE_BYTES_MAX_DEFAULT,
        SESSION_EXPIRY_MILLIS_DEFAULT,
        PipelineLimits.DEFAULTS,
        GossipConfig.DEFAULTS,
        SlowNodeSettings.DEFAULTS,
        WatchLimits.DEFAULTS,
        MembershipSettings.DEFAULTS,
        TlsSettings.OFF,
        DISK_QUOTA_BYTES_DEFAULT,
        AuthSettings.DEFAULTS);
  }

  public PartitionLayout partitionLayout() {
    return PartitionLayout.of(partitionCount);
  }

  /** This node's own member entry. */
  public Member self() {
    return members.stream().filter(m -> m.nodeId() == nodeId).findFirst().orElseThrow();
  }

  /** Members other than this node. */
  public List<Member> peers() {
    return members.stream().filter(m -> m.nodeId() != nodeId).toList();
  }
}
