package io.ringkv.server.raft;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.LongSupplier;
import java.util.function.ToLongFunction;

/**
 * The driver's meters, registered once at start. Owns no thread: counters and timers are safe to
 * record from the driver and apply threads alike.
 *
 * <p>Every message or task the driver drops is counted under one meter, {@code
 * ringkv.driver.messages.dropped}, tagged with the {@link DropReason}, so an operator sees why
 * traffic was lost without reading logs.
 */
final class DriverMetrics {
  /** Why the driver dropped a message, a frame or a task. */
  enum DropReason {
    /** The driver inbox was full (or the driver closed): a request or a peer frame was refused. */
    INBOX_FULL("inbox_full"),
    /** A peer Raft message that did not decode. */
    MALFORMED("malformed"),
    /** A message for a partition this node does not host. */
    UNKNOWN_GROUP("unknown_group"),
    /** A message for a replica that stopped on a failure. */
    REPLICA_STOPPED("replica_stopped"),
    /** A message addressed to another node, or claiming another sender than its connection. */
    WRONG_ADDRESS("wrong_address"),
    /** A snapshot inside an ordinary RaftBatch (snapshots travel only as verified transfers). */
    SNAPSHOT_IN_BATCH("snapshot_in_batch"),
    /** A Heartbeats frame (this driver sends heartbeats inside RaftBatch frames). */
    HEARTBEATS_FRAME("heartbeats_frame"),
    /** An outgoing RaftBatch frame the transport did not take. */
    FRAME_NOT_SENT("frame_not_sent");

    final String tag;

    DropReason(String tag) {
      this.tag = tag;
    }
  }

  private final Map<DropReason, Counter> dropped = new EnumMap<>(DropReason.class);
  final Counter leaderChanges;
  final Counter balanceTransfers;
  final Counter snapshotsSent;
  final Counter snapshotsInstalled;
  final Counter backPressureIterations;
  final Counter readsByLease;
  final Counter readsByReadIndex;
  final Counter readsForwarded;
  final Counter ticksCaughtUp;
  final Timer fsyncTimer;
  final DistributionSummary commitWrites;
  final Timer proposalToApply;
  final Timer proposalToCommit;
  final Timer applyTimer;
  private final MeterRegistry registry;

  DriverMetrics(MeterRegistry registry) {
    this.registry = registry;
    for (DropReason reason : DropReason.values()) {
      dropped.put(
          reason,
          Counter.builder("ringkv.driver.messages.dropped")
              .description("messages, frames or tasks the driver dropped, by reason")
              .tag("reason", reason.tag)
              .register(registry));
    }
    this.leaderChanges = counter("ringkv.raft.leader.changes", "leader changes seen");
    this.snapshotsSent = counter("ringkv.raft.snapshots.sent", "snapshots sent");
    this.balanceTransfers =
        counter(
            "ringkv.raft.leader.balance.transfers",
            "leadership handed to a partition's preferred replica");
    this.snapshotsInstalled = counter("ringkv.raft.snapshots.installed", "snapshots installed");
    this.backPressureIterations =
        counter(
            "ringkv.driver.backpressure.waits",
            "Readies not taken because the apply queue or the commit queue was full");
    this.readsByLease = readCounter("lease");
    this.readsByReadIndex = readCounter("read_index");
    this.readsForwarded = readCounter("forwarded");
    this.ticksCaughtUp =
        counter(
            "ringkv.driver.ticks.caught.up",
            "Raft ticks run late, in a burst, after the driver thread stalled past a tick (lease"
                + " mode only: a leader's lease must not outlast a stall)");
    this.fsyncTimer =
        Timer.builder("ringkv.driver.commit.latency")
            .description("group commit (one write + fsync for all groups) latency")
            .publishPercentileHistogram()
            .register(registry);
    this.commitWrites =
        DistributionSummary.builder("ringkv.driver.commit.groups")
            .description("groups persisted per group commit")
            .register(registry);
    this.proposalToApply =
        Timer.builder("ringkv.raft.proposal.latency")
            .description("proposal to applied (commit plus apply) on the leader")
            .publishPercentileHistogram()
            .register(registry);
    this.proposalToCommit =
        Timer.builder("ringkv.raft.proposal.commit.latency")
            .description("proposal to committed (seen committed by the leader's driver)")
            .publishPercentileHistogram()
            .register(registry);
    this.applyTimer =
        Timer.builder("ringkv.driver.apply.latency")
            .description("commit to apply: applying one group's committed entries")
            .register(registry);
  }

  /** 1 while this node counts itself slow and gives its leaderships away. */
  void registerSlowGauge(java.util.function.BooleanSupplier slow) {
    Gauge.builder("ringkv.node.slow", () -> slow.getAsBoolean() ? 1 : 0)
        .description(
            "1 while this node counts itself slow (gossip health or fsync p99) and hands its"
                + " partition leaderships to healthy replicas")
        .register(registry);
  }

  private Counter readCounter(String confirmedBy) {
    return Counter.builder("ringkv.raft.reads")
        .description(
            "linearizable reads by how the leader confirmed them: lease (no round trip),"
                + " read_index (a heartbeat round; also lease mode without a current lease), or"
                + " forwarded (a follower asked its leader)")
        .tag("confirmed_by", confirmedBy)
        .register(registry);
  }

  private Counter counter(String name, String description) {
    return Counter.builder(name).description(description).register(registry);
  }

  void dropped(DropReason reason) {
    dropped.get(reason).increment();
  }

  static void recordNanos(Timer timer, long nanos) {
    timer.record(nanos, TimeUnit.NANOSECONDS);
  }

  /** Role, term, commit and applied index of one partition, read from the published status. */
  void registerPartitionGauges(int partition, AtomicReferenceArray<GroupStatus> statuses) {
    String tag = Integer.toString(partition);
    Gauge.builder("ringkv.partition.role", () -> roleCode(statuses.get(partition)))
        .description("0 follower, 1 pre-candidate, 2 candidate, 3 leader")
        .tag("partition", tag)
        .register(registry);
    gauge("ringkv.partition.term", partition, statuses, GroupStatus::term);
    gauge("ringkv.partition.commit.index", partition, statuses, GroupStatus::commitIndex);
    gauge("ringkv.partition.applied.index", partition, statuses, GroupStatus::appliedIndex);
  }

  /** Local replicas stopped on a failure. */
  void registerStoppedReplicasGauge(java.util.function.IntSupplier stopped) {
    Gauge.builder("ringkv.driver.replicas.stopped", stopped::getAsInt)
        .description("local partition replicas stopped on a failure (no longer driven)")
        .register(registry);
  }

  /** Bytes of committed entries waiting for the apply thread. */
  void registerApplyQueueGauge(LongSupplier queuedBytes) {
    Gauge.builder("ringkv.driver.apply.queue.bytes", queuedBytes::getAsLong)
        .description("bytes of committed entries handed to the apply thread and not applied yet")
        .register(registry);
  }

  private void gauge(
      String name,
      int partition,
      AtomicReferenceArray<GroupStatus> statuses,
      ToLongFunction<GroupStatus> field) {
    Gauge.builder(
            name,
            () -> {
              GroupStatus status = statuses.get(partition);
              return status == null ? 0 : field.applyAsLong(status);
            })
        .tag("partition", Integer.toString(partition))
        .register(registry);
  }

  private static double roleCode(GroupStatus status) {
    return status == null ? 0 : status.role().ordinal();
  }
}
