package io.ringkv.raft;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.random.RandomGenerator;

/**
 * The Raft state machine of one member. Design notes:
 *
 * <ul>
 *   <li>Pure and single-threaded: it never sends, writes or sleeps. Inputs are ticks and messages;
 *       outputs accumulate in {@link #messages} and the log, drained by {@link RawNode#ready()}.
 *   <li>Role-dependent behaviour is swapped on role change ({@link #stepForRole}, {@link
 *       #tickForRole}), as in etcd's raft; term handling common to all roles runs first in {@link
 *       #step}.
 *   <li>A leader counts its own entries towards commit only once the application reports them
 *       persisted ({@link #onPersisted}), so messages it sends may go out before persistence.
 *   <li>Commit advances only by counting replicas of an entry of the leader's own term (figure 8).
 * </ul>
 */
final class Raft {
  interface StepFunction {
    void step(Message message);
  }

  /**
   * The bound on tick-rate drift that lease reads assume: no member ticks more than this many
   * percent faster than any other (measured over an election timeout). Beyond it a follower may
   * vote for a new leader while the old one still serves reads from its lease.
   */
  static final int LEASE_TICK_DRIFT_PERCENT_MAX = 10;

  /**
   * Ticks of a lease are lost to phase: a follower may receive the heartbeat just before one of its
   * own ticks, so its election timeout of E ticks can end E - 1 leader ticks after the send.
   */
  static final int LEASE_TICK_PHASE_MARGIN_TICKS = 1;

  final long id;
  final Config config;
  final RaftLog log;
  final ProgressTracker tracker;
  private final RandomGenerator random;

  long term;
  long vote;
  long leaderId;
  Role role = Role.FOLLOWER;

  /** Target of a leadership transfer in progress, 0 if none. */
  long leadTransferee;

  /** Index of the newest conf change in the log; a new one waits until it is applied. */
  long pendingConfIndex;

  /** Payload bytes of entries appended by this leader and not yet committed. */
  long uncommittedSizeBytes;

  int electionElapsedTicks;

  /** Ticks since this core was created: the clock of leases. */
  long ticksSinceStart;

  int heartbeatElapsedTicks;
  int randomizedElectionTimeoutTicks;

  final List<Message> messages = new ArrayList<>();
  final List<ReadState> readStates = new ArrayList<>();
  final ReadIndexQueue readIndexQueue = new ReadIndexQueue();

  /** ReadIndex requests that arrived before this leader committed an entry of its term. */
  final List<Message> readsAwaitingTermCommit = new ArrayList<>();

  long droppedMessageCount;

  /** Reads this leader confirmed from its lease, without a heartbeat round. */
  long leaseReadCount;

  /** Reads this leader confirmed by a quorum heartbeat round (ReadIndex). */
  long quorumReadCount;

  /**
   * Set once this leader sent TIMEOUT_NOW: the target's forced election ignores leases, so lease
   * reads fall back to the quorum check for the rest of the term.
   */
  boolean leaseRevokedByTransfer;

  /** A TIMEOUT_NOW arrived while a conf change awaited apply: campaign once it is applied. */
  boolean timeoutNowPending;

  /**
   * A learner in its own configuration that refused a vote, on log grounds, to a candidate that
   * still counts it as a voter (that candidate has not yet applied the change that demoted this
   * member). Until it hears from a leader it may campaign: it may hold the only log that can win,
   * as when it alone learned that the demoting change committed, and the others, still in the joint
   * configuration, need its vote yet can never get it. The Raft dissertation (4.2.2) notes that a
   * member outside its own latest configuration may still be needed for elections.
   */
  boolean neededByStaleVoters;

  private StepFunction stepForRole;
  private Runnable tickForRole;

  Raft(Config config, RaftLogReader storage, RandomGenerator random) {
    this.id = config.id();
    this.config = config;
    this.random = random;
    this.log = new RaftLog(storage, config.maxCommittedSizeBytesPerReady());
    this.tracker = new ProgressTracker(config.maxInflightMessages(), config.maxInflightBytes());
    RaftLogReader.InitialState initial = storage.initialState();
    HardState hardState = initial.hardState();
    tracker.applyConfig(initial.confState(), log.lastIndex());
    if (!hardState.isEmpty()) {
      // A commit index below the snapshot is possible: a hard state whose only change was the
      // commit index is written without an fsync (Ready#mustSync), so a crash may lose it while a
      // later snapshot survives. Everything a snapshot covers is committed.
      Invariants.check(
          hardState.commit() <= log.lastIndex(),
          "hard state commit %d above the last index %d",
          hardState.commit(),
          log.lastIndex());
      log.committed = Math.max(hardState.commit(), log.committed);
      term = hardState.term();
      vote = hardState.vote();
    }
    if (config.appliedIndex() > 0) {
      log.appliedTo(Math.min(config.appliedIndex(), log.committed));
    }
    becomeFollower(term, 0);
  }

  // ---------------------------------------------------------------- state

  HardState hardState() {
    long persistedVote = config.unsafe(UnsafeTestingMode.FORGET_VOTE_ON_RESTART) ? 0 : vote;
    return new HardState(term, persistedVote, log.committed);
  }

  boolean promotable() {
    Progress self = tracker.progress.get(id);
    return self != null && (!self.learner || neededByStaleVoters) && log.unstable.snapshot == null;
  }

  boolean committedEntryInCurrentTerm() {
    return log.termOrZero(log.committed) == term;
  }

  private void send(Message message) {
    Invariants.check(message.to() != id, "message to self: %s", message);
    messages.add(message);
  }

  // ---------------------------------------------------------------- role changes

  private void reset(long newTerm) {
    if (term != newTerm) {
      term = newTerm;
      vote = 0;
    }
    leaderId = 0;
    electionElapsedTicks = 0;
    heartbeatElapsedTicks = 0;
    randomizedElectionTimeoutTicks =
        config.electionTimeoutTicks() + random.nextInt(config.electionTimeoutTicks());
    leadTransferee = 0;
    tracker.resetVotes();
    long lastIndex = log.lastIndex();
    long persisted = log.persistedLastIndex();
    tracker.progress.forEach((memberId, member) -> {
      Progress fresh =
          tracker.newProgress(memberId == id ? persisted : 0, lastIndex + 1, member.learner);
      tracker.progress.put(memberId, fresh);
    });
    pendingConfIndex = 0;
    uncommittedSizeBytes = 0;
    readIndexQueue.clear();
    readsAwaitingTermCommit.clear();
    leaseRevokedByTransfer = false;
    timeoutNowPending = false;
  }

  void becomeFollower(long newTerm, long newLeaderId) {
    reset(newTerm);
    leaderId = newLeaderId;
    role = Role.FOLLOWER;
    stepForRole = this::stepFollower;
    tickForRole = this::tickElection;
  }

  private void becomePreCandidate() {
    Invariants.check(role != Role.LEADER, "leader cannot become pre-candidate");
    // Unlike a real candidate, the term and vote stay: a failed pre-election disturbs nobody.
    tracker.resetVotes();
    leaderId = 0;
    role = Role.PRE_CANDIDATE;
    stepForRole = this::stepCandidate;
    tickForRole = this::tickElection;
  }

  private void becomeCandidate() {
    Invariants.check(role != Role.LEADER, "leader cannot become candidate");
    reset(term + 1);
    vote = id;
    role = Role.CANDIDATE;
    stepForRole = this::stepCandidate;
    tickForRole = this::tickElection;
  }

  private void becomeLeader() {
    Invariants.check(role != Role.FOLLOWER, "follower cannot become leader directly");
    reset(term);
    leaderId = id;
    role = Role.LEADER;
    stepForRole = this::stepLeader;
    tickForRole = this::tickHeartbeat;
    tracker.progress.get(id).becomeReplicate();
    // Conservatively treat any conf change still in the log as pending.
    pendingConfIndex = log.lastIndex();
    // The empty entry of the new term lets the leader commit (and thus learn) earlier entries.
    // The figure-8 testing mode leaves it out, as the paper's figure does.
    if (!config.unsafe(UnsafeTestingMode.COMMIT_PREVIOUS_TERM_BY_COUNTING)) {
      appendEntries(List.of(new Entry(term, log.lastIndex() + 1, EntryType.NORMAL, new byte[0])));
    }
  }

  // ---------------------------------------------------------------- ticks

  void tick() {
    ticksSinceStart++;
    tickForRole.run();
    checkInvariants();
  }

  /** Invariants that hold between any two inputs; a violation stops this replica loudly. */
  void checkInvariants() {
    Invariants.check(
        log.applied <= log.committed && log.committed <= log.lastIndex(),
        "member %d: applied %d <= committed %d <= last %d violated",
        id,
        log.applied,
        log.committed,
        log.lastIndex());
    Invariants.check(
        (role == Role.LEADER) == (leaderId == id),
        "member %d: role %s but leader %d",
        id,
        role,
        leaderId);
    Invariants.check(
        role != Role.CANDIDATE || vote == id, "member %d: candidate without its own vote", id);
    Invariants.check(
        leadTransferee == 0 || role == Role.LEADER, "member %d: transfer outside leadership", id);
  }

  private void tickElection() {
    electionElapsedTicks++;
    if (promotable() && electionElapsedTicks >= randomizedElectionTimeoutTicks) {
      electionElapsedTicks = 0;
      campaignIfAllowed(false);
    }
  }

  private void tickHeartbeat() {
    heartbeatElapsedTicks++;
    electionElapsedTicks++;
    if (electionElapsedTicks >= config.electionTimeoutTicks()) {
      electionElapsedTicks = 0;
      if (config.checkQuorum()) {
        checkQuorum();
        if (role != Role.LEADER) {
          return;
        }
      }
      // A transfer that did not finish within an election timeout is abandoned.
      leadTransferee = 0;
      if (!tracker.isVoter(id)) {
        handOffLeadership(); // a removed leader tries again
      }
    }
    if (heartbeatElapsedTicks >= config.heartbeatTimeoutTicks()) {
      heartbeatElapsedTicks = 0;
      broadcastHeartbeat();
    }
  }

  private void checkQuorum() {
    boolean active = tracker.quorumActive(id);
    tracker.progress.forEach((memberId, member) -> member.recentActive = memberId == id);
    if (!active) {
      becomeFollower(term, 0);
    }
  }

  // ---------------------------------------------------------------- elections

  /** Starts an election unless this member may not (leader, learner, or unapplied conf change). */
  void campaignIfAllowed(boolean transfer) {
    if (role == Role.LEADER || !promotable()) {
      return;
    }
    if (hasUnappliedConfChange()) {
      return;
    }
    timeoutNowPending = false;
    if (config.preVote() && !transfer) {
      campaign(true, false);
    } else {
      campaign(false, transfer);
    }
  }

  private boolean hasUnappliedConfChange() {
    if (log.applied >= log.committed) {
      return false;
    }
    long low = Math.max(log.applied + 1, log.firstIndex());
    for (Entry entry : log.slice(low, log.committed + 1, Long.MAX_VALUE)) {
      if (entry.type() == EntryType.CONF_CHANGE) {
        return true;
      }
    }
    return false;
  }

  private void campaign(boolean preVote, boolean transfer) {
    long voteTerm;
    if (preVote) {
      becomePreCandidate();
      voteTerm = term + 1;
    } else {
      becomeCandidate();
      voteTerm = term;
    }
    if (recordVoteAndCheck(id, true)) {
      return;
    }
    long lastIndex = log.lastIndex();
    long lastTerm = log.lastTerm();
    for (long voter : voters()) {
      if (voter == id) {
        continue;
      }
      send(Message.voteRequest(preVote, voter, id, voteTerm, lastTerm, lastIndex, transfer));
    }
  }

  private Set<Long> voters() {
    Set<Long> voters = new java.util.TreeSet<>(tracker.config.voters());
    voters.addAll(tracker.config.votersOutgoing());
    return voters;
  }

  /** Records a vote; returns true if the election ended in a win and the role changed. */
  private boolean recordVoteAndCheck(long from, boolean granted) {
    tracker.recordVote(from, granted);
    switch (tracker.tallyVotes()) {
      case WON -> {
        if (role == Role.PRE_CANDIDATE) {
          campaign(false, false);
        } else {
          becomeLeader();
          broadcastAppend();
        }
        return true;
      }
      case LOST -> {
        becomeFollower(term, 0);
        return true;
      }
      default -> {
        return false;
      }
    }
  }

  // ---------------------------------------------------------------- step

  void step(Message message) {
    if (message.term() > term) {
      if (!stepHigherTerm(message)) {
        return;
      }
    } else if (message.term() != 0 && message.term() < term) {
      stepLowerTerm(message);
      return;
    }
    switch (message.type()) {
      case VOTE, PRE_VOTE -> handleVoteRequest(message);
      default -> stepForRole.step(message);
    }
    checkInvariants();
  }

  /** Term handling for a message from a higher term; returns false if it is to be ignored. */
  private boolean stepHigherTerm(Message message) {
    boolean voteRequest =
        message.type() == MessageType.VOTE || message.type() == MessageType.PRE_VOTE;
    if (voteRequest) {
      boolean force = java.util.Arrays.equals(message.context(), Message.CAMPAIGN_TRANSFER);
      if (!force && inLease()) {
        // We heard from a live leader recently: a disruptive (possibly removed) member is ignored.
        return false;
      }
    }
    switch (message.type()) {
      case PRE_VOTE -> {
        // A pre-vote never changes our term.
      }
      case PRE_VOTE_RESPONSE -> {
        if (message.reject()) {
          becomeFollower(message.term(), 0);
        }
      }
      case APPEND, HEARTBEAT, SNAPSHOT -> becomeFollower(message.term(), message.from());
      case VOTE -> {
        if (log.isUpToDate(message.index(), message.logTerm())) {
          becomeFollower(message.term(), 0);
        } else {
          becomeFollowerKeepingElectionTimer(message.term());
        }
      }
      default -> becomeFollower(message.term(), 0);
    }
    return true;
  }

  /**
   * Adopts a higher term from a vote request this member will refuse because its own log is more up
   * to date. Restarting the election timer here would let members that can never win (their logs
   * are behind) hold back, election after election, the one member that can: each of their
   * campaigns would push its timeout further out and give them the next race too. Only hearing from
   * a leader or granting a vote restarts the timer, as the Raft paper has it.
   */
  private void becomeFollowerKeepingElectionTimer(long newTerm) {
    int elapsedTicks = electionElapsedTicks;
    int timeoutTicks = randomizedElectionTimeoutTicks;
    becomeFollower(newTerm, 0);
    electionElapsedTicks = elapsedTicks;
    randomizedElectionTimeoutTicks = timeoutTicks;
  }

  private void stepLowerTerm(Message message) {
    MessageType type = message.type();
    if (type == MessageType.APPEND || type == MessageType.HEARTBEAT) {
      // A stale leader learns the newer term and steps down. Staying silent (as etcd does without
      // CheckQuorum and PreVote) can wedge a group: a member that does not yet know it is a voter
      // never campaigns, so no vote request would ever carry the newer term to the stale leader.
      send(Message.newerTermNotice(message.from(), id, term));
    } else if (type == MessageType.PRE_VOTE) {
      send(Message.voteResponse(true, message.from(), id, term, false));
    }
  }

  private void handleVoteRequest(Message message) {
    boolean preVote = message.type() == MessageType.PRE_VOTE;
    boolean canVote =
        vote == message.from()
            || (vote == 0 && leaderId == 0)
            || (preVote && message.term() > term);
    if (canVote && log.isUpToDate(message.index(), message.logTerm())) {
      // A granted pre-vote carries the candidate's future term, so the candidate does not
      // mistake it for a stale reply.
      send(Message.voteResponse(preVote, message.from(), id, message.term(), true));
      if (!preVote) {
        electionElapsedTicks = 0;
        vote = message.from();
      }
    } else {
      send(Message.voteResponse(preVote, message.from(), id, term, false));
      Progress self = tracker.progress.get(id);
      if (self != null
          && self.learner
          && leaderId == 0
          && !log.isUpToDate(message.index(), message.logTerm())) {
        neededByStaleVoters = true;
      }
    }
  }

  // ---------------------------------------------------------------- follower

  private void stepFollower(Message message) {
    switch (message.type()) {
      case PROPOSE -> {
        // Local proposals do not arrive here (see propose); a forwarded one reached a member that
        // is no longer leader. Forwarding it again could loop, so it is dropped.
        droppedMessageCount++;
      }
      case APPEND -> {
        electionElapsedTicks = 0;
        leaderId = message.from();
        neededByStaleVoters = false;
        handleAppend(message);
      }
      case HEARTBEAT -> {
        electionElapsedTicks = 0;
        leaderId = message.from();
        neededByStaleVoters = false;
        handleHeartbeat(message);
      }
      case SNAPSHOT -> {
        electionElapsedTicks = 0;
        leaderId = message.from();
        neededByStaleVoters = false;
        handleSnapshot(message);
      }
      case TRANSFER_LEADER, READ_INDEX -> {
        if (leaderId == 0 || (message.type() == MessageType.READ_INDEX && message.from() != id)) {
          droppedMessageCount++;
          return;
        }
        send(message.withTo(leaderId));
      }
      case TIMEOUT_NOW -> {
        // The leader chose us; if a committed conf change is still to be applied, campaign
        // right after applying it (see afterApply).
        timeoutNowPending = true;
        campaignIfAllowed(true);
      }
      case READ_INDEX_RESPONSE -> readStates.add(new ReadState(message.index(), message.context()));
      default -> {
        // Responses meant for another role are stale.
      }
    }
  }

  private void handleAppend(Message message) {
    if (message.index() < log.committed) {
      send(Message.appendAccepted(message.from(), id, term, log.committed));
      return;
    }
    long lastNewIndex =
        log.maybeAppend(message.index(), message.logTerm(), message.commit(), message.entries());
    if (lastNewIndex >= 0) {
      send(Message.appendAccepted(message.from(), id, term, lastNewIndex));
      return;
    }
    // Reject with a hint: the highest index whose term is at most the leader's term at
    // message.index(); the leader can skip a whole conflicting term in one round trip.
    long hintIndex =
        log.findConflictByTerm(Math.min(message.index(), log.lastIndex()), message.logTerm());
    long hintTerm = log.termOrZero(hintIndex);
    send(Message.appendRejected(message.from(), id, term, message.index(), hintTerm, hintIndex));
  }

  private void handleHeartbeat(Message message) {
    log.commitTo(message.commit());
    // Echo the leader's send tick: the leader's lease counts from it.
    send(Message.heartbeatResponse(message.from(), id, term, message.index(), message.context()));
  }

  /**
   * Whether this member still trusts a leader it heard from within an election timeout, and so
   * refuses to help elect another (CheckQuorum). With lease reads, a member that just started
   * refuses for one election timeout too: it may have acknowledged a leader before it restarted,
   * and that leader's lease counts on it.
   */
  private boolean inLease() {
    if (!config.checkQuorum()) {
      return false;
    }
    int timeout = config.electionTimeoutTicks();
    boolean restartLease =
        config.readOnlyMode() == Config.ReadOnlyMode.LEASE_BASED && ticksSinceStart < timeout;
    return (leaderId != 0 && electionElapsedTicks < timeout) || restartLease;
  }

  /**
   * Whether this leader holds a lease now: a quorum acknowledged heartbeats sent at or after tick
   * {@code t}, so none of them helps elect another leader before {@code t + electionTimeoutTicks}
   * (see {@link #inLease}); the lease is shorter than that by the phase margin and the drift bound
   * (see {@link #leaseTicks}).
   */
  private boolean holdsLease() {
    if (leaseRevokedByTransfer) {
      return false;
    }
    long acknowledgedTick =
        Quorum.jointCommittedIndex(
            tracker.config.voters(),
            tracker.config.votersOutgoing(),
            memberId -> {
              if (memberId == id) {
                return ticksSinceStart;
              }
              Progress member = tracker.progress.get(memberId);
              return member == null ? -1 : member.leaseAcknowledgedTick;
            });
    return ticksSinceStart < acknowledgedTick + leaseTicks(config);
  }

  /**
   * How many of its own ticks a leader trusts a quorum's acknowledgement of a heartbeat: the
   * followers' election timeout less the phase margin, shortened by the drift bound (a follower
   * whose ticks run fast ends its timeout early in the leader's ticks). With the defaults (10
   * ticks), 8 ticks.
   */
  static int leaseTicks(Config config) {
    int electionTimeoutTicks = config.electionTimeoutTicks();
    int promisedTicks = electionTimeoutTicks - LEASE_TICK_PHASE_MARGIN_TICKS;
    int leaseTicks = promisedTicks * 100 / (100 + LEASE_TICK_DRIFT_PERCENT_MAX);
    Invariants.check(
        leaseTicks >= 0 && leaseTicks < electionTimeoutTicks,
        "a lease must end before the followers' election timeout");
    return leaseTicks;
  }

  private void handleSnapshot(Message message) {
    if (restore(message.snapshot())) {
      send(Message.appendAccepted(message.from(), id, term, log.lastIndex()));
    } else {
      send(Message.appendAccepted(message.from(), id, term, log.committed));
    }
  }

  /** Installs a snapshot from the leader; returns false if it was old or already matched. */
  boolean restore(Snapshot snapshot) {
    SnapshotMetadata metadata = snapshot.metadata();
    if (metadata.index() <= log.committed) {
      return false;
    }
    if (log.matchTerm(metadata.index(), metadata.term())) {
      // Our log already holds the snapshot's last entry: fast-forward the commit index instead.
      log.commitTo(metadata.index());
      return false;
    }
    if (log.hasEntriesBeingApplied()) {
      // The application is still applying committed entries of an earlier Ready (the node
      // pipelines Readies). Restoring now would switch the configuration under it, and a conf
      // change among those entries would then be applied to the snapshot's configuration instead
      // of the one it was committed against. Refuse; the leader sends the snapshot again.
      return false;
    }
    log.restore(snapshot);
    tracker.progress.clear();
    tracker.applyConfig(metadata.confState(), log.lastIndex());
    return true;
  }

  // ---------------------------------------------------------------- candidate

  private void stepCandidate(Message message) {
    MessageType expectedResponse =
        role == Role.PRE_CANDIDATE ? MessageType.PRE_VOTE_RESPONSE : MessageType.VOTE_RESPONSE;
    switch (message.type()) {
      case PROPOSE -> droppedMessageCount++;
      case APPEND -> {
        becomeFollower(message.term(), message.from());
        handleAppend(message);
      }
      case HEARTBEAT -> {
        becomeFollower(message.term(), message.from());
        handleHeartbeat(message);
      }
      case SNAPSHOT -> {
        becomeFollower(message.term(), message.from());
        handleSnapshot(message);
      }
      case VOTE_RESPONSE, PRE_VOTE_RESPONSE -> {
        if (message.type() == expectedResponse) {
          recordVoteAndCheck(message.from(), !message.reject());
        }
      }
      default -> {
        // A candidate has no leader to forward to and ignores the rest.
      }
    }
  }

  // ---------------------------------------------------------------- leader

  private void stepLeader(Message message) {
    switch (message.type()) {
      case PROPOSE -> {
        try {
          propose(message.entries());
        } catch (ProposalDroppedException e) {
          droppedMessageCount++;
        }
      }
      case READ_INDEX -> handleReadIndex(message);
      case TRANSFER_LEADER -> handleTransferLeader(message.from());
      case APPEND_RESPONSE -> handleAppendResponse(message);
      case HEARTBEAT_RESPONSE -> handleHeartbeatResponse(message);
      default -> {
        // Other messages of our own term are stale.
      }
    }
  }

  /**
   * Appends proposed entries (their term and index are placeholders and get set here). Local
   * callers see a {@link ProposalDroppedException}; forwarded proposals are dropped silently.
   */
  void propose(List<Entry> proposed) {
    if (role != Role.LEADER) {
      if (role == Role.FOLLOWER && leaderId != 0 && !config.disableProposalForwarding()) {
        send(Message.propose(leaderId, id, proposed));
        return;
      }
      throw new ProposalDroppedException(
          leaderId == 0
              ? ProposalDroppedException.Reason.NO_LEADER
              : ProposalDroppedException.Reason.NOT_LEADER_FORWARDING_DISABLED,
          "member " + id + " is " + role + " in term " + term);
    }
    if (!tracker.progress.containsKey(id)) {
      throw new ProposalDroppedException(
          ProposalDroppedException.Reason.NOT_A_MEMBER, "leader was removed from the group");
    }
    if (leadTransferee != 0) {
      throw new ProposalDroppedException(
          ProposalDroppedException.Reason.LEADER_TRANSFER_IN_PROGRESS,
          "transferring leadership to " + leadTransferee);
    }
    for (Entry entry : proposed) {
      if (entry.type() == EntryType.CONF_CHANGE) {
        checkConfChangeAllowed(ConfChange.decode(entry.data()));
      }
    }
    long lastIndex = log.lastIndex();
    List<Entry> entries = new ArrayList<>(proposed.size());
    for (Entry entry : proposed) {
      entries.add(new Entry(term, ++lastIndex, entry.type(), entry.data()));
    }
    long payloadBytes = 0;
    for (Entry entry : entries) {
      payloadBytes += entry.data().length;
    }
    long limit = config.maxUncommittedEntriesBytes();
    if (limit > 0 && uncommittedSizeBytes > 0 && uncommittedSizeBytes + payloadBytes > limit) {
      throw new ProposalDroppedException(
          ProposalDroppedException.Reason.UNCOMMITTED_BYTES_LIMIT,
          uncommittedSizeBytes + " bytes uncommitted, limit " + limit);
    }
    for (Entry entry : entries) {
      if (entry.type() == EntryType.CONF_CHANGE) {
        pendingConfIndex = entry.index();
      }
    }
    appendEntries(entries);
    broadcastAppend();
  }

  private void checkConfChangeAllowed(ConfChange change) {
    if (pendingConfIndex > log.applied) {
      throw new ProposalDroppedException(
          ProposalDroppedException.Reason.CONF_CHANGE_PENDING,
          "conf change at " + pendingConfIndex + " not applied yet (applied " + log.applied + ")");
    }
    boolean joint = tracker.config.isJoint();
    if (joint && !change.isLeaveJoint()) {
      throw new ProposalDroppedException(
          ProposalDroppedException.Reason.INVALID_CONF_CHANGE, "must leave the joint config first");
    }
    if (!joint && change.isLeaveJoint()) {
      throw new ProposalDroppedException(
          ProposalDroppedException.Reason.INVALID_CONF_CHANGE, "not in a joint config");
    }
    try {
      MembershipChanger.apply(tracker.config, change);
    } catch (IllegalArgumentException e) {
      throw new ProposalDroppedException(
          ProposalDroppedException.Reason.INVALID_CONF_CHANGE, e.getMessage());
    }
  }

  private void appendEntries(List<Entry> entries) {
    for (Entry entry : entries) {
      uncommittedSizeBytes += entry.data().length;
    }
    log.append(entries);
    // The leader's own progress advances only once the entries are persisted (onPersisted).
  }

  void broadcastAppend() {
    for (long memberId : tracker.progress.keySet()) {
      if (memberId != id) {
        sendAppend(memberId, true);
      }
    }
  }

  /** Sends the next append (or a snapshot); returns whether anything was sent. */
  private boolean sendAppend(long to, boolean sendIfEmpty) {
    Progress member = tracker.progress.get(to);
    if (member == null || member.isPaused()) {
      return false;
    }
    long previousIndex = member.next - 1;
    long previousTerm;
    List<Entry> entries;
    try {
      previousTerm = log.term(previousIndex);
      entries = log.entriesFrom(member.next, config.maxSizeBytesPerAppend());
    } catch (LogCompactedException e) {
      return sendSnapshot(to, member);
    }
    if (entries.isEmpty() && !sendIfEmpty) {
      return false;
    }
    long sizeBytes = 0;
    for (Entry entry : entries) {
      sizeBytes += entry.sizeBytes();
    }
    send(Message.append(to, id, term, previousTerm, previousIndex, entries, log.committed));
    long lastIndex = entries.isEmpty() ? previousIndex : entries.get(entries.size() - 1).index();
    member.sentEntries(entries.size(), lastIndex, sizeBytes);
    return true;
  }

  private boolean sendSnapshot(long to, Progress member) {
    if (!member.recentActive) {
      return false; // no point shipping a snapshot to a member we have not heard from
    }
    Snapshot snapshot = log.snapshot();
    if (snapshot.isEmpty()) {
      return false;
    }
    member.becomeSnapshot(snapshot.metadata().index());
    send(Message.snapshot(to, id, term, snapshot));
    return true;
  }

  private void broadcastHeartbeat() {
    byte[] context = readIndexQueue.lastContext();
    for (long memberId : tracker.progress.keySet()) {
      if (memberId != id) {
        sendHeartbeat(memberId, context);
      }
    }
  }

  private void sendHeartbeat(long to, byte[] context) {
    // Never tell a member to commit past what it is known to hold.
    long commit = Math.min(tracker.progress.get(to).match, log.committed);
    byte[] readContext = context == null ? new byte[0] : context;
    send(Message.heartbeat(to, id, term, commit, ticksSinceStart, readContext));
  }

  private void handleAppendResponse(Message message) {
    Progress member = tracker.progress.get(message.from());
    if (member == null) {
      return;
    }
    member.recentActive = true;
    if (message.reject()) {
      long nextProbeIndex = message.rejectHint();
      if (message.logTerm() > 0) {
        // Skip every entry of ours whose term is above the follower's term at the hint.
        nextProbeIndex = log.findConflictByTerm(message.rejectHint(), message.logTerm());
      }
      if (member.maybeDecreaseTo(message.index(), nextProbeIndex)) {
        if (member.state == Progress.State.REPLICATE) {
          member.becomeProbe();
        }
        sendAppend(message.from(), true);
      }
      return;
    }
    boolean wasPaused = member.isPaused();
    if (!member.maybeUpdate(message.index())
        && !(member.match == message.index() && member.state == Progress.State.PROBE)) {
      return;
    }
    switch (member.state) {
      case PROBE -> member.becomeReplicate();
      case SNAPSHOT -> {
        if (member.match + 1 >= log.firstIndex()) {
          member.becomeProbe();
          member.becomeReplicate();
        }
      }
      case REPLICATE -> member.inflights.freeLessOrEqual(message.index());
    }
    if (maybeCommit()) {
      broadcastAppend();
    } else if (wasPaused || member.state == Progress.State.REPLICATE) {
      // Keep the pipeline full: send while the window has room and there is something to send.
      while (sendAppend(message.from(), false)) {
        // loop
      }
    }
    if (message.from() == leadTransferee && member.match == log.lastIndex()) {
      sendTimeoutNow(leadTransferee);
    }
  }

  private void handleHeartbeatResponse(Message message) {
    Progress member = tracker.progress.get(message.from());
    if (member == null) {
      return;
    }
    member.recentActive = true;
    member.probeSent = false;
    member.leaseAcknowledgedTick = Math.max(member.leaseAcknowledgedTick, message.index());
    if (member.state == Progress.State.REPLICATE && member.inflights.full()) {
      member.inflights.freeFirstOne();
    }
    if (member.match < log.lastIndex()) {
      sendAppend(message.from(), true);
    }
    if (message.context().length == 0) {
      return;
    }
    Set<Long> acks = readIndexQueue.recordAck(message.from(), message.context());
    if (acks == null || !quorumOf(acks)) {
      return;
    }
    for (ReadIndexQueue.Pending confirmed : readIndexQueue.confirmUpTo(message.context())) {
      respondToRead(confirmed.request(), confirmed.index());
    }
  }

  private boolean quorumOf(Set<Long> members) {
    Map<Long, Boolean> votes = new HashMap<>();
    for (long member : members) {
      votes.put(member, true);
    }
    return Quorum.jointVoteResult(tracker.config.voters(), tracker.config.votersOutgoing(), votes)
        == Quorum.VoteResult.WON;
  }

  /** Advances the commit index from the members' acknowledgements; true if it moved. */
  boolean maybeCommit() {
    boolean ignoreTerm = config.unsafe(UnsafeTestingMode.COMMIT_PREVIOUS_TERM_BY_COUNTING);
    boolean moved = log.maybeCommit(tracker.committed(), term, ignoreTerm);
    if (moved && committedEntryInCurrentTerm() && !readsAwaitingTermCommit.isEmpty()) {
      List<Message> waiting = new ArrayList<>(readsAwaitingTermCommit);
      readsAwaitingTermCommit.clear();
      for (Message read : waiting) {
        confirmRead(read);
      }
    }
    return moved;
  }

  private void handleReadIndex(Message message) {
    if (tracker.isSingleVoter(id)) {
      respondToRead(message, log.committed);
      return;
    }
    // A new leader does not know the commit index of its predecessors until it commits an entry
    // of its own term: reads wait until then.
    if (!committedEntryInCurrentTerm()) {
      if (readsAwaitingTermCommit.size() < ReadIndexQueue.MAX_PENDING_REQUESTS) {
        readsAwaitingTermCommit.add(message);
      } else {
        droppedMessageCount++;
      }
      return;
    }
    confirmRead(message);
  }

  private void confirmRead(Message message) {
    boolean skipQuorumCheck =
        (config.readOnlyMode() == Config.ReadOnlyMode.LEASE_BASED && holdsLease())
            || config.unsafe(UnsafeTestingMode.READ_INDEX_WITHOUT_QUORUM_CHECK);
    if (skipQuorumCheck) {
      leaseReadCount++;
      respondToRead(message, log.committed);
      return;
    }
    if (!readIndexQueue.add(log.committed, message)) {
      droppedMessageCount++;
      return;
    }
    quorumReadCount++;
    readIndexQueue.recordAck(id, message.context());
    for (long memberId : tracker.progress.keySet()) {
      if (memberId != id) {
        sendHeartbeat(memberId, message.context());
      }
    }
  }

  private void respondToRead(Message request, long index) {
    if (request.from() == 0 || request.from() == id) {
      readStates.add(new ReadState(index, request.context()));
    } else {
      send(Message.readIndexResponse(request.from(), id, term, index, request.context()));
    }
  }

  private void handleTransferLeader(long target) {
    Progress member = tracker.progress.get(target);
    if (member == null || member.learner || target == id) {
      return;
    }
    if (leadTransferee == target) {
      return;
    }
    leadTransferee = target;
    // The transfer must finish within an election timeout, counted from now.
    electionElapsedTicks = 0;
    if (member.match == log.lastIndex()) {
      sendTimeoutNow(target);
    } else {
      sendAppend(target, true);
    }
  }

  private void sendTimeoutNow(long target) {
    leaseRevokedByTransfer = true;
    send(Message.timeoutNow(target, id, term));
  }

  // ---------------------------------------------------------------- local reports

  /** The application persisted entries up to the log's persisted index: count them for self. */
  void onPersisted() {
    if (role != Role.LEADER) {
      return;
    }
    Progress self = tracker.progress.get(id);
    if (self != null && self.maybeUpdate(log.persistedLastIndex()) && maybeCommit()) {
      broadcastAppend();
    }
  }

  void reduceUncommittedSize(List<Entry> applied) {
    if (role != Role.LEADER) {
      return;
    }
    long bytes = 0;
    for (Entry entry : applied) {
      bytes += entry.data().length;
    }
    uncommittedSizeBytes = Math.max(0, uncommittedSizeBytes - bytes);
  }

  void reportSnapshot(long memberId, boolean succeeded) {
    Progress member = tracker.progress.get(memberId);
    if (role != Role.LEADER || member == null || member.state != Progress.State.SNAPSHOT) {
      return;
    }
    if (!succeeded) {
      member.pendingSnapshotIndex = 0;
    }
    member.becomeProbe();
    // Wait for a heartbeat response before probing again.
    member.probeSent = true;
  }

  void reportUnreachable(long memberId) {
    Progress member = tracker.progress.get(memberId);
    if (role == Role.LEADER && member != null && member.state == Progress.State.REPLICATE) {
      member.becomeProbe();
    }
  }

  /** Switches to a new configuration computed from an applied conf change. */
  ConfState applyConfChange(ConfChange change) {
    ConfState next = MembershipChanger.apply(tracker.config, change);
    tracker.applyConfig(next, log.lastIndex());
    if (role == Role.LEADER) {
      if (!tracker.progress.containsKey(leadTransferee)) {
        leadTransferee = 0;
      }
      // A smaller quorum may commit more now, and new members need appends.
      maybeCommit();
      broadcastAppend();
      if (!tracker.isVoter(id)) {
        handOffLeadership();
      }
    }
    return next;
  }

  /**
   * A leader that is no longer a voter keeps leading only until it has handed over to the most
   * up-to-date voter (which first learns the commit index, and so the new configuration). Simply
   * stepping down could wedge the group: its own log may hold uncommitted entries that make it
   * refuse every remaining candidate, while it may no longer campaign itself.
   */
  private void handOffLeadership() {
    long target = 0;
    long targetMatch = -1;
    for (long voter : voters()) {
      Progress member = tracker.progress.get(voter);
      if (voter != id && member != null && member.match > targetMatch) {
        target = voter;
        targetMatch = member.match;
      }
    }
    if (target == 0) {
      becomeFollower(term, 0);
      return;
    }
    handleTransferLeader(target);
  }

  /** Called after the application applied a Ready's committed entries. */
  void afterApply() {
    if (timeoutNowPending && role == Role.FOLLOWER) {
      campaignIfAllowed(true);
    }
    maybeAutoLeave();
  }

  /** When the joint config entered with autoLeave is applied, the leader proposes leaving it. */
  private void maybeAutoLeave() {
    if (role == Role.LEADER
        && tracker.config.autoLeave()
        && log.applied >= pendingConfIndex
        && leadTransferee == 0) {
      try {
        propose(List.of(new Entry(1, 1, EntryType.CONF_CHANGE, ConfChange.leaveJoint().encode())));
      } catch (ProposalDroppedException e) {
        droppedMessageCount++;
      }
    }
  }
}
