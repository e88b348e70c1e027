package io.ringkv.server.raft;

import io.ringkv.raft.Invariants;
import java.nio.file.Path;

/**
 * Settings of the multi-Raft driver, validated on construction.
 *
 * @param nodeId this node (the Raft member id in every group)
 * @param tickMillis the period of the one timer that ticks every group
 * @param electionTimeoutTicks Raft election timeout (randomized in [n, 2n) by the core)
 * @param heartbeatTimeoutTicks leader heartbeat period
 * @param logCompactionEntries compact a group's log once it holds more applied entries than this;
 *     half of them are kept so briefly lagging followers still catch up from the log
 * @param inflightProposalsPerPartitionMax pending proposals per partition leader before new ones
 *     are refused (RESOURCE_EXHAUSTED)
 * @param snapshotSizeBytesMax (snapshot-size-bytes-max) largest snapshot this node sends or
 *     accepts; snapshots travel in chunks, so the peer frame limit does not bound it
 * @param peerBatchSizeBytesMax a RaftBatch frame is cut when it grows past this
 * @param sessionTtlMillis client sessions idle longer than this (in entry time) expire
 * @param inboxTasksMax bounded queue of work handed to the driver thread
 * @param snapshotDirectory scratch space under the data dir for snapshots being sent or received
 * @param applyQueueBytesMax (apply-queue-bytes-max) committed entry bytes handed to the apply
 *     thread and not applied yet; at this bound no new Ready is taken until apply catches up, so
 *     the queue holds at most this plus one Ready's committed bytes
 * @param raftInflightBytesMax (raft-inflight-bytes-max) entry bytes a leader sends one follower
 *     before hearing back; bounds what a follower receives between two Readies
 * @param readOnlyMode (raft-read-mode) LEASE_BASED: leaders answer reads from a lease when one is
 *     current, and the driver then catches up the ticks a stall missed (see MultiRaftDriver)
 */
public record DriverSettings(
    long nodeId,
    int tickMillis,
    int electionTimeoutTicks,
    int heartbeatTimeoutTicks,
    long logCompactionEntries,
    int inflightProposalsPerPartitionMax,
    long snapshotSizeBytesMax,
    long peerBatchSizeBytesMax,
    long sessionTtlMillis,
    int inboxTasksMax,
    Path snapshotDirectory,
    long applyQueueBytesMax,
    long raftInflightBytesMax,
    io.ringkv.raft.Config.ReadOnlyMode readOnlyMode) {
  public static final int TICK_MILLIS_DEFAULT = 100;
  public static final int ELECTION_TIMEOUT_TICKS_DEFAULT = 10;
  public static final long LOG_COMPACTION_ENTRIES_DEFAULT = 10_000;
  public static final int INBOX_TASKS_MAX_DEFAULT = 100_000;
  public static final long SESSION_TTL_MILLIS_DEFAULT = 10 * 60 * 1000L;
  public static final long APPLY_QUEUE_BYTES_MAX_DEFAULT = 64L * 1024 * 1024;
  public static final long RAFT_INFLIGHT_BYTES_MAX_DEFAULT = 32L * 1024 * 1024;

  public DriverSettings {
    Invariants.check(nodeId > 0, "nodeId must be > 0");
    Invariants.check(tickMillis >= 1, "tickMillis must be >= 1");
    Invariants.check(
        electionTimeoutTicks > heartbeatTimeoutTicks && heartbeatTimeoutTicks >= 1,
        "electionTimeoutTicks must exceed heartbeatTimeoutTicks >= 1");
    Invariants.check(logCompactionEntries >= 2, "logCompactionEntries must be >= 2");
    Invariants.check(inflightProposalsPerPartitionMax >= 1, "inflight limit must be >= 1");
    Invariants.check(
        snapshotSizeBytesMax >= 1024 && peerBatchSizeBytesMax >= 1024, "frame budgets too small");
    Invariants.check(sessionTtlMillis > 0, "sessionTtlMillis must be > 0");
    Invariants.check(inboxTasksMax >= 1, "inboxTasksMax must be >= 1");
    Invariants.check(snapshotDirectory != null, "snapshotDirectory must be set");
    Invariants.check(applyQueueBytesMax >= 1, "applyQueueBytesMax must be >= 1");
    Invariants.check(raftInflightBytesMax >= 1, "raftInflightBytesMax must be >= 1");
    Invariants.check(readOnlyMode != null, "readOnlyMode must be set");
  }
}
