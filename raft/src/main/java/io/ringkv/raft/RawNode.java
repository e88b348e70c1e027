package io.ringkv.raft;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.random.RandomGenerator;

/**
 * The public, single-threaded facade of one member's Raft core. The application drives it: {@link
 * #tick()} at a fixed pace, {@link #step(Message)} for every message received, {@link
 * #propose(byte[])} and friends for client requests, and in its loop {@link #ready()}, handle the
 * {@link Ready} as its documentation orders, then {@link #advance(Ready)}.
 *
 * <p>Not thread-safe; no I/O, no clock, no randomness except the injected source.
 */
public final class RawNode {
  private final Raft raft;
  private HardState previousHardState;
  private Ready outstanding;

  /**
   * Creates a core over the given persisted state.
   *
   * @param random source of election jitter; seed it for reproducible runs
   */
  public RawNode(Config config, RaftLogReader storage, RandomGenerator random) {
    this.raft = new Raft(config, storage, random);
    this.previousHardState = raft.hardState();
  }

  /** Advances logical time by one tick (election and heartbeat timers). */
  public void tick() {
    raft.tick();
  }

  /** Starts an election now (if this member may). */
  public void campaign() {
    raft.campaignIfAllowed(false);
  }

  /** Feeds a message received from another member. Messages to another member fail loudly. */
  public void step(Message message) {
    Invariants.check(
        message.to() == raft.id, "message for %d stepped into %d", message.to(), raft.id);
    raft.step(message);
  }

  /**
   * Proposes one command. A follower forwards it to the leader (no guarantee it arrives).
   *
   * @throws ProposalDroppedException if no leader is known, a transfer is in progress, or the
   *     uncommitted bytes limit is reached
   */
  public void propose(byte[] data) {
    proposeBatch(List.of(data));
  }

  /** Proposes several commands as one batch (one append, one broadcast). */
  public void proposeBatch(List<byte[]> commands) {
    List<Entry> entries = new ArrayList<>(commands.size());
    for (byte[] data : commands) {
      entries.add(new Entry(1, 1, EntryType.NORMAL, data.clone()));
    }
    raft.propose(entries);
  }

  /**
   * Proposes a membership change. Only one may be pending: a new one is refused until the previous
   * one is applied.
   *
   * @throws ProposalDroppedException as for {@link #propose}, or if the change is not allowed now
   */
  public void proposeConfChange(ConfChange change) {
    raft.propose(List.of(new Entry(1, 1, EntryType.CONF_CHANGE, change.encode())));
  }

  /**
   * Applies a committed conf change (call it while applying its entry) and returns the new
   * configuration, to be stored with the application's state.
   */
  public ConfState applyConfChange(ConfChange change) {
    return raft.applyConfChange(change);
  }

  /**
   * Requests a linearizable read. A {@link ReadState} with the same context appears in a later
   * Ready once leadership is confirmed; the request is silently dropped when there is no leader
   * (the caller retries after a timeout).
   */
  public void readIndex(byte[] context) {
    if (context.length == 0) {
      throw new IllegalArgumentException("read context must not be empty");
    }
    raft.step(Message.readIndex(raft.id, raft.id, context.clone()));
  }

  /** Asks the leader to hand leadership to {@code target}. */
  public void transferLeader(long target) {
    raft.step(Message.transferLeader(raft.id, target));
  }

  /** The leader reports how sending a snapshot to {@code memberId} ended. */
  public void reportSnapshot(long memberId, boolean succeeded) {
    raft.reportSnapshot(memberId, succeeded);
  }

  /** The application could not reach {@code memberId}; replication falls back to probing. */
  public void reportUnreachable(long memberId) {
    raft.reportUnreachable(memberId);
  }

  /** Whether {@link #ready()} has work; false while a Ready is outstanding. */
  public boolean hasReady() {
    if (outstanding != null) {
      return false;
    }
    return !raft.messages.isEmpty()
        || !raft.log.unstable.entries.isEmpty()
        || raft.log.unstable.snapshot != null
        || raft.log.hasNextCommittedEntries()
        || !raft.readStates.isEmpty()
        || !raft.hardState().equals(previousHardState);
  }

  /**
   * Takes the pending work. Fails if the previous Ready was not yet passed to {@link
   * #advance(Ready)}.
   */
  public Ready ready() {
    if (outstanding != null) {
      throw new IllegalStateException("ready() called twice without advance()");
    }
    HardState hardState = raft.hardState();
    List<Message> early = new ArrayList<>();
    List<Message> late = new ArrayList<>();
    for (Message message : raft.messages) {
      (message.type().sendableBeforePersistence() ? early : late).add(message);
    }
    raft.messages.clear();
    Snapshot snapshot = raft.log.unstable.snapshot;
    List<Entry> committedEntries = raft.log.nextCommittedEntries();
    if (!committedEntries.isEmpty()) {
      raft.log.applyingTo(committedEntries.get(committedEntries.size() - 1).index());
    }
    List<Entry> entries = raft.log.unstableEntries();
    boolean mustSync =
        !entries.isEmpty()
            || snapshot != null
            || hardState.term() != previousHardState.term()
            || hardState.vote() != previousHardState.vote();
    Ready ready =
        new Ready(
            entries,
            hardState.equals(previousHardState) ? Optional.empty() : Optional.of(hardState),
            snapshot == null ? Snapshot.EMPTY : snapshot,
            early,
            late,
            committedEntries,
            raft.readStates,
            mustSync);
    raft.readStates.clear();
    outstanding = ready;
    return ready;
  }

  /**
   * While a Ready is outstanding (its log write still in progress): takes the messages produced
   * since that may be sent before persistence (appends and heartbeats of a leader, read-index
   * traffic, snapshots), so they need not wait for the write. The rest stays for the next Ready.
   * Safe for the same reason {@link Ready#messages()} is: none of them claims anything durable.
   */
  public List<Message> takeMessagesBeforePersistence() {
    if (raft.messages.isEmpty()) {
      return List.of();
    }
    List<Message> early = new ArrayList<>();
    Iterator<Message> pending = raft.messages.iterator();
    while (pending.hasNext()) {
      Message message = pending.next();
      if (message.type().sendableBeforePersistence()) {
        early.add(message);
        pending.remove();
      }
    }
    return early;
  }

  /**
   * While a Ready is outstanding: takes the read states produced since (confirmed read indexes
   * depend on no local persistence), so reads need not wait for the write.
   */
  public List<ReadState> takeReadStates() {
    if (raft.readStates.isEmpty()) {
      return List.of();
    }
    List<ReadState> states = List.copyOf(raft.readStates);
    raft.readStates.clear();
    return states;
  }

  /** The application handled {@code ready} (persisted, sent, applied): the core moves on. */
  public void advance(Ready ready) {
    if (outstanding == null || outstanding != ready) {
      throw new IllegalStateException("advance() with a Ready that is not the outstanding one");
    }
    outstanding = null;
    ready.hardState().ifPresent(state -> previousHardState = state);
    if (!ready.snapshot().isEmpty()) {
      long index = ready.snapshot().metadata().index();
      raft.log.stableSnapshotTo(index);
      raft.log.appliedTo(index);
    }
    if (!ready.entries().isEmpty()) {
      Entry last = ready.entries().get(ready.entries().size() - 1);
      raft.log.stableTo(last.index(), last.term());
    }
    if (!ready.committedEntries().isEmpty()) {
      List<Entry> applied = ready.committedEntries();
      raft.log.appliedTo(applied.get(applied.size() - 1).index());
      raft.reduceUncommittedSize(applied);
    }
    raft.onPersisted();
    raft.afterApply();
  }

  /** This member's role, without building a {@link Status}: for per-request checks. */
  public Role role() {
    return raft.role;
  }

  public Status status() {
    return new Status(
        raft.id,
        raft.role,
        raft.term,
        raft.vote,
        raft.leaderId,
        raft.log.committed,
        raft.log.applied,
        raft.log.lastIndex(),
        raft.tracker.config,
        raft.leadTransferee);
  }

  /** What the leader knows of one member's log (see {@link #memberProgress()}). */
  public record MemberProgress(long memberId, long matchIndex, boolean snapshotPending) {}

  /**
   * The leader's view of every member's replication (match index, snapshot in flight), in member id
   * order; empty unless this member leads. Membership moves wait on it for a new replica to catch
   * up.
   */
  public List<MemberProgress> memberProgress() {
    if (raft.role != Role.LEADER) {
      return List.of();
    }
    List<MemberProgress> members = new ArrayList<>();
    raft.tracker.progress.forEach((id, member) ->
        members.add(new MemberProgress(id, member.match, member.state == Progress.State.SNAPSHOT)));
    return members;
  }

  /** Messages dropped so far (forwarding without a leader, full queues, refused proposals). */
  public long droppedMessageCount() {
    return raft.droppedMessageCount;
  }

  /** Reads this member confirmed as leader from its lease, without a heartbeat round. */
  public long leaseReadCount() {
    return raft.leaseReadCount;
  }

  /**
   * Reads this member confirmed as leader by a quorum heartbeat round: all of them in SAFE mode,
   * and in LEASE_BASED mode those that arrived while no lease was current.
   */
  public long quorumReadCount() {
    return raft.quorumReadCount;
  }

  // Package-private views for the simulation's checkers.
  Raft raft() {
    return raft;
  }
}
