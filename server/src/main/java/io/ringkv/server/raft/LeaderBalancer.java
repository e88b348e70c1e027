package io.ringkv.server.raft;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.function.LongPredicate;

/**
 * Leader balancing as a pure decision: ticks and replica statuses in, leadership transfers out. It
 * owns no thread and touches no Raft core; the driver thread asks it once per balance period and
 * carries out the transfers it returns.
 *
 * <p>Each partition has one preferred leader (its voters sorted by id, taken round robin by
 * partition number), so with N nodes each leads about 1/N of the partitions it holds. Only the
 * current leader hands off, only to a connected preferred replica, and the preferred replica never
 * hands on, so leadership settles. A partition moved on purpose (a requested transfer, seen on the
 * old leader as the request and on the new one as the transfer's TIMEOUT_NOW) is left alone for
 * {@link #HOLD_PERIODS_AFTER_TRANSFER} periods.
 *
 * <p>Slow nodes: a node that counts itself slow hands every partition it leads to a healthy replica
 * (the preferred one when healthy, else the next healthy voter in the same round-robin order), at
 * once and whatever the hold; and no node hands a partition to a replica that is not healthy, so
 * the slow node's partitions stay away from it until it says it has recovered (its own hysteresis
 * decides when). "Healthy" is the caller's predicate: connected, not dead by gossip and not
 * degraded.
 */
final class LeaderBalancer {
  /** Balance periods a partition moved by a requested transfer stays where it was sent. */
  static final int HOLD_PERIODS_AFTER_TRANSFER = 10;

  /** What the balancer needs to know of one local replica. */
  record Candidate(
      int partition,
      boolean leader,
      long leadTransferee,
      Collection<Long> voters,
      long balanceAfterTick) {}

  /** Hand {@code partition}'s leadership to {@code target}. */
  record Transfer(int partition, long target) {}

  private final long nodeId;
  private final long intervalTicks;

  /**
   * @param nodeId this node
   * @param intervalTicks balance period in ticks; 0 turns balancing off
   */
  LeaderBalancer(long nodeId, long intervalTicks) {
    io.ringkv.raft.Invariants.check(intervalTicks >= 0, "balance interval must be >= 0 ticks");
    this.nodeId = nodeId;
    this.intervalTicks = intervalTicks;
  }

  /** True on the ticks at which {@link #transfers} should be asked. */
  boolean due(long tick) {
    return intervalTicks > 0 && tick % intervalTicks == 0;
  }

  /** The tick until which a partition moved on purpose at {@code tick} is left alone. */
  long holdUntil(long tick) {
    return tick + HOLD_PERIODS_AFTER_TRANSFER * Math.max(1, intervalTicks);
  }

  /** The transfers to make now, for a healthy node; {@code healthy} says which peers may lead. */
  List<Transfer> transfers(long tick, List<Candidate> candidates, LongPredicate healthy) {
    return transfers(tick, candidates, false, healthy);
  }

  /**
   * The transfers to make now: {@code selfSlow} says this node counts itself slow, {@code healthy}
   * which peers may take a leadership (reachable, alive, not slow).
   */
  List<Transfer> transfers(
      long tick, List<Candidate> candidates, boolean selfSlow, LongPredicate healthy) {
    List<Transfer> transfers = new ArrayList<>();
    for (Candidate candidate : candidates) {
      if (!candidate.leader()
          || candidate.leadTransferee() != 0
          || candidate.voters().isEmpty()
          || (!selfSlow && tick < candidate.balanceAfterTick())) {
        continue;
      }
      long target =
          selfSlow
              ? healthiestOther(candidate.partition(), candidate.voters(), healthy)
              : preferredLeader(candidate.partition(), candidate.voters());
      if (target != 0 && target != nodeId && healthy.test(target)) {
        transfers.add(new Transfer(candidate.partition(), target));
      }
    }
    return transfers;
  }

  /**
   * The first healthy voter other than this node, in the round-robin order that starts at the
   * preferred leader (so a slow node's partitions spread over the others as evenly as the preferred
   * leaders do); 0 when there is none.
   */
  private long healthiestOther(int partition, Collection<Long> voters, LongPredicate healthy) {
    List<Long> sorted = new ArrayList<>(voters);
    Collections.sort(sorted);
    for (int step = 0; step < sorted.size(); step++) {
      long voter = sorted.get((partition + step) % sorted.size());
      if (voter != nodeId && healthy.test(voter)) {
        return voter;
      }
    }
    return 0;
  }

  /**
   * The replica that should lead {@code partition}: the voters sorted by id, taken round robin by
   * partition number.
   */
  static long preferredLeader(int partition, Collection<Long> voters) {
    List<Long> sorted = new ArrayList<>(voters);
    Collections.sort(sorted);
    return sorted.get(partition % sorted.size());
  }
}
