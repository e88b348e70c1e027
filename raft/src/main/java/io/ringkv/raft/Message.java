package io.ringkv.raft;

import java.util.List;

/**
 * A message between members of one group. One shape for every type, so that the node layer can
 * encode it on the wire; which fields a type uses, and what they mean, is fixed by the factory of
 * that type, the only way to build one. Each factory checks its arguments; fields a type does not
 * use are zero, empty, or {@link Snapshot#EMPTY}.
 *
 * <p>Fields: {@code term} is the sender's term (0 for the termless PROPOSE, READ_INDEX and
 * TRANSFER_LEADER); {@code logTerm} and {@code index} locate a log position (APPEND: the entry the
 * new ones follow; votes: the candidate's last entry; APPEND_RESPONSE: the index accepted, or the
 * rejected index with the term at the hint); HEARTBEAT carries the leader's tick count in {@code
 * index}, echoed back as the clock of leader leases; READ_INDEX_RESPONSE carries the read index;
 * {@code commit} is the sender's commit index (APPEND, HEARTBEAT); {@code rejectHint} is the
 * highest index a rejecting follower may match at; {@code context} is the read request's context
 * (heartbeats and read-index traffic) or {@link #CAMPAIGN_TRANSFER} on votes of a forced campaign.
 */
public final class Message {

  /** Context of votes of a campaign forced by leader transfer (they bypass leases). */
  public static final byte[] CAMPAIGN_TRANSFER = {'T'};

  private static final byte[] NO_CONTEXT = new byte[0];

  private final MessageType type;
  private final long to;
  private final long from;
  private final long term;
  private final long logTerm;
  private final long index;
  private final List<Entry> entries;
  private final long commit;
  private final Snapshot snapshot;
  private final boolean reject;
  private final long rejectHint;
  private final byte[] context;

  private Message(
      MessageType type,
      long to,
      long from,
      long term,
      long logTerm,
      long index,
      List<Entry> entries,
      long commit,
      Snapshot snapshot,
      boolean reject,
      long rejectHint,
      byte[] context) {
    Invariants.check(type != null, "message type must not be null");
    Invariants.check(snapshot != null && context != null && entries != null, "null message part");
    Invariants.check(
        to > 0 && from > 0, "%s: member ids must be > 0: to %d from %d", type, to, from);
    Invariants.check(
        term >= 0 && logTerm >= 0 && index >= 0 && commit >= 0 && rejectHint >= 0,
        "%s: negative term, index, commit or hint",
        type);
    Invariants.check(
        !type.termless() || term == 0, "%s: a termless type carries term %d", type, term);
    this.type = type;
    this.to = to;
    this.from = from;
    this.term = term;
    this.logTerm = logTerm;
    this.index = index;
    this.entries = List.copyOf(entries);
    this.commit = commit;
    this.snapshot = snapshot;
    this.reject = reject;
    this.rejectHint = rejectHint;
    this.context = context;
  }

  private static Message plain(MessageType type, long to, long from, long term) {
    return new Message(
        type, to, from, term, 0, 0, List.of(), 0, Snapshot.EMPTY, false, 0, NO_CONTEXT);
  }

  // ---------------------------------------------------------------- factories, one per type

  /** A proposal a follower forwards to its leader; entries get their term and index there. */
  public static Message propose(long to, long from, List<Entry> entries) {
    Invariants.check(!entries.isEmpty(), "a proposal without entries");
    return new Message(
        MessageType.PROPOSE, to, from, 0, 0, 0, entries, 0, Snapshot.EMPTY, false, 0, NO_CONTEXT);
  }

  /**
   * Entries following ({@code logTerm}, {@code index}) in the leader's log, and its commit index.
   * The entries must be contiguous from {@code index + 1}, with terms that never go back, from
   * {@code logTerm} at least up to {@code term} at most.
   */
  public static Message append(
      long to, long from, long term, long logTerm, long index, List<Entry> entries, long commit) {
    long previousTerm = logTerm;
    for (int position = 0; position < entries.size(); position++) {
      Entry entry = entries.get(position);
      Invariants.check(
          entry.index() == index + 1 + position,
          "append entries not contiguous after %d at %d",
          index,
          entry.index());
      Invariants.check(
          entry.term() >= previousTerm && entry.term() <= term,
          "append entry term %d outside [%d, %d]",
          entry.term(),
          previousTerm,
          term);
      previousTerm = entry.term();
    }
    return new Message(
        MessageType.APPEND,
        to,
        from,
        term,
        logTerm,
        index,
        entries,
        commit,
        Snapshot.EMPTY,
        false,
        0,
        NO_CONTEXT);
  }

  /** A follower holds the leader's entries up to {@code matchIndex}. */
  public static Message appendAccepted(long to, long from, long term, long matchIndex) {
    return new Message(
        MessageType.APPEND_RESPONSE,
        to,
        from,
        term,
        0,
        matchIndex,
        List.of(),
        0,
        Snapshot.EMPTY,
        false,
        0,
        NO_CONTEXT);
  }

  /**
   * A follower's log does not match at {@code rejectedIndex}; it may match at {@code hintIndex},
   * whose term is {@code hintTerm}.
   */
  public static Message appendRejected(
      long to, long from, long term, long rejectedIndex, long hintTerm, long hintIndex) {
    Invariants.check(
        hintIndex <= rejectedIndex, "hint %d above rejected index %d", hintIndex, rejectedIndex);
    return new Message(
        MessageType.APPEND_RESPONSE,
        to,
        from,
        term,
        hintTerm,
        rejectedIndex,
        List.of(),
        0,
        Snapshot.EMPTY,
        true,
        hintIndex,
        NO_CONTEXT);
  }

  /**
   * Tells a leader of an older term about the newer {@code term} (an append response that accepts
   * nothing), so it steps down.
   */
  public static Message newerTermNotice(long to, long from, long term) {
    return appendAccepted(to, from, term, 0);
  }

  /**
   * A vote request (or a pre-vote, for {@code term} the candidate would campaign in) from a
   * candidate whose last entry is ({@code lastLogTerm}, {@code lastIndex}); {@code transfer} marks
   * a campaign forced by leader transfer.
   */
  public static Message voteRequest(
      boolean preVote,
      long to,
      long from,
      long term,
      long lastLogTerm,
      long lastIndex,
      boolean transfer) {
    Invariants.check(term > 0, "vote request in term 0");
    return new Message(
        preVote ? MessageType.PRE_VOTE : MessageType.VOTE,
        to,
        from,
        term,
        lastLogTerm,
        lastIndex,
        List.of(),
        0,
        Snapshot.EMPTY,
        false,
        0,
        transfer ? CAMPAIGN_TRANSFER.clone() : NO_CONTEXT);
  }

  /**
   * The answer to a vote request ({@code preVote}: a pre-vote); a granted pre-vote carries the term
   * the candidate asked for, a refusal the voter's own term.
   */
  public static Message voteResponse(
      boolean preVote, long to, long from, long term, boolean granted) {
    return new Message(
        preVote ? MessageType.PRE_VOTE_RESPONSE : MessageType.VOTE_RESPONSE,
        to,
        from,
        term,
        0,
        0,
        List.of(),
        0,
        Snapshot.EMPTY,
        !granted,
        0,
        NO_CONTEXT);
  }

  /** The leader's whole snapshot for a member behind its compacted log. */
  public static Message snapshot(long to, long from, long term, Snapshot snapshot) {
    Invariants.check(snapshot != null && !snapshot.isEmpty(), "a snapshot message without one");
    return new Message(
        MessageType.SNAPSHOT, to, from, term, 0, 0, List.of(), 0, snapshot, false, 0, NO_CONTEXT);
  }

  /**
   * A leader's heartbeat: commit up to {@code commit}; {@code sentTick} is the leader's tick count,
   * echoed in the response; {@code context} is a pending read's context, or empty.
   */
  public static Message heartbeat(
      long to, long from, long term, long commit, long sentTick, byte[] context) {
    return new Message(
        MessageType.HEARTBEAT,
        to,
        from,
        term,
        0,
        sentTick,
        List.of(),
        commit,
        Snapshot.EMPTY,
        false,
        0,
        context);
  }

  /** A follower's answer to a heartbeat, echoing its tick and context. */
  public static Message heartbeatResponse(
      long to, long from, long term, long sentTick, byte[] context) {
    return new Message(
        MessageType.HEARTBEAT_RESPONSE,
        to,
        from,
        term,
        0,
        sentTick,
        List.of(),
        0,
        Snapshot.EMPTY,
        false,
        0,
        context);
  }

  /** The leader tells the transfer target to campaign at once. */
  public static Message timeoutNow(long to, long from, long term) {
    return plain(MessageType.TIMEOUT_NOW, to, from, term);
  }

  /**
   * A request to hand leadership to {@code target}, stepped into member {@code to} (and forwarded
   * to its leader); termless.
   */
  public static Message transferLeader(long to, long target) {
    return plain(MessageType.TRANSFER_LEADER, to, target, 0);
  }

  /** A linearizable read request with a non-empty {@code context}, from member {@code from}. */
  public static Message readIndex(long to, long from, byte[] context) {
    Invariants.check(context.length > 0, "a read request without context");
    return new Message(
        MessageType.READ_INDEX, to, from, 0, 0, 0, List.of(), 0, Snapshot.EMPTY, false, 0, context);
  }

  /** The leader's answer to a forwarded read: the read index for {@code context}. */
  public static Message readIndexResponse(
      long to, long from, long term, long readIndex, byte[] context) {
    return new Message(
        MessageType.READ_INDEX_RESPONSE,
        to,
        from,
        term,
        0,
        readIndex,
        List.of(),
        0,
        Snapshot.EMPTY,
        false,
        0,
        context);
  }

  // ---------------------------------------------------------------- changes of an existing one

  /** This message sent on to {@code newTo} (a follower forwarding a request to its leader). */
  Message withTo(long newTo) {
    Invariants.check(
        type == MessageType.READ_INDEX || type == MessageType.TRANSFER_LEADER,
        "only requests are forwarded, not %s",
        type);
    return new Message(
        type,
        newTo,
        from,
        term,
        logTerm,
        index,
        entries,
        commit,
        snapshot,
        reject,
        rejectHint,
        context);
  }

  /**
   * This SNAPSHOT message with {@code newSnapshot} in place of its own (the node ships snapshot
   * data apart from the message).
   */
  public Message withSnapshot(Snapshot newSnapshot) {
    Invariants.check(type == MessageType.SNAPSHOT, "a %s carries no snapshot", type);
    return snapshot(to, from, term, newSnapshot);
  }

  // ---------------------------------------------------------------- fields

  public MessageType type() {
    return type;
  }

  public long to() {
    return to;
  }

  public long from() {
    return from;
  }

  public long term() {
    return term;
  }

  public long logTerm() {
    return logTerm;
  }

  public long index() {
    return index;
  }

  public List<Entry> entries() {
    return entries;
  }

  public long commit() {
    return commit;
  }

  public Snapshot snapshot() {
    return snapshot;
  }

  public boolean reject() {
    return reject;
  }

  public long rejectHint() {
    return rejectHint;
  }

  public byte[] context() {
    return context;
  }

  boolean isResponse() {
    return switch (type) {
      case APPEND_RESPONSE,
          VOTE_RESPONSE,
          PRE_VOTE_RESPONSE,
          HEARTBEAT_RESPONSE,
          READ_INDEX_RESPONSE ->
          true;
      default -> false;
    };
  }

  @Override
  public String toString() {
    StringBuilder out = new StringBuilder();
    out.append(type).append(' ').append(from).append("->").append(to).append(" t").append(term);
    if (logTerm != 0 || index != 0) {
      out.append(" log=").append(logTerm).append('/').append(index);
    }
    if (!entries.isEmpty()) {
      out.append(" entries=")
          .append(entries.get(0).index())
          .append("..")
          .append(entries.get(entries.size() - 1).index());
    }
    if (commit != 0) {
      out.append(" commit=").append(commit);
    }
    if (!snapshot.isEmpty()) {
      out.append(" snap=")
          .append(snapshot.metadata().index())
          .append('/')
          .append(snapshot.metadata().term());
    }
    if (reject) {
      out.append(" REJECT hint=").append(rejectHint);
    }
    if (context.length > 0) {
      out.append(" ctx=").append(java.util.HexFormat.of().formatHex(context));
    }
    return out.toString();
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof Message that
        && type == that.type
        && to == that.to
        && from == that.from
        && term == that.term
        && logTerm == that.logTerm
        && index == that.index
        && entries.equals(that.entries)
        && commit == that.commit
        && snapshot == that.snapshot
        && reject == that.reject
        && rejectHint == that.rejectHint
        && java.util.Arrays.equals(context, that.context);
  }

  @Override
  public int hashCode() {
    return java.util.Objects.hash(type, to, from, term, index, commit);
  }
}
