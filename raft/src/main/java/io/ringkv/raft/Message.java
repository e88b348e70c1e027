package io.ringkv.raft;

import java.util.List;

/**
 * A message between members of one group. Plain data so that the node layer can encode it on the
 * wire; fields a type does not use are zero, empty, or {@link Snapshot#EMPTY}.
 *
 * @param type what the message is
 * @param to receiving member
 * @param from sending member
 * @param term sender's term (0 for PROPOSE, which is termless)
 * @param logTerm APPEND: term of the entry at {@code index}; votes: candidate's last log term;
 *     rejected APPEND_RESPONSE: term of the entry at {@code rejectHint}
 * @param index APPEND: index preceding the entries; votes: candidate's last index; APPEND_RESPONSE:
 *     last index accepted (or the rejected index); READ_INDEX_RESPONSE: read index; HEARTBEAT: the
 *     leader's tick count when sent, echoed by HEARTBEAT_RESPONSE (the clock of leader leases)
 * @param entries APPEND and PROPOSE payload
 * @param commit sender's commit index (APPEND, HEARTBEAT)
 * @param snapshot SNAPSHOT payload
 * @param reject whether a response refuses
 * @param rejectHint rejected APPEND_RESPONSE: highest index the follower may match at
 * @param context HEARTBEAT(_RESPONSE) and READ_INDEX(_RESPONSE): the read request context; VOTE:
 *     {@link #CAMPAIGN_TRANSFER} for a campaign started by leader transfer
 */
public record Message(
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

  /** Context of votes of a campaign forced by leader transfer (they bypass leases). */
  public static final byte[] CAMPAIGN_TRANSFER = {'T'};

  private static final byte[] NO_CONTEXT = new byte[0];

  public Message {
    Invariants.check(type != null, "message type must not be null");
    entries = List.copyOf(entries);
    Invariants.check(snapshot != null && context != null, "message parts must not be null");
  }

  /** A message with only routing and term set; use the withers for the rest. */
  public static Message of(MessageType type, long to, long from, long term) {
    return new Message(
        type, to, from, term, 0, 0, List.of(), 0, Snapshot.EMPTY, false, 0, NO_CONTEXT);
  }

  Message withTerm(long newTerm) {
    return new Message(
        type,
        to,
        from,
        newTerm,
        logTerm,
        index,
        entries,
        commit,
        snapshot,
        reject,
        rejectHint,
        context);
  }

  Message withTo(long newTo) {
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

  Message withLog(long newLogTerm, long newIndex) {
    return new Message(
        type,
        to,
        from,
        term,
        newLogTerm,
        newIndex,
        entries,
        commit,
        snapshot,
        reject,
        rejectHint,
        context);
  }

  Message withEntries(List<Entry> newEntries) {
    return new Message(
        type,
        to,
        from,
        term,
        logTerm,
        index,
        newEntries,
        commit,
        snapshot,
        reject,
        rejectHint,
        context);
  }

  Message withCommit(long newCommit) {
    return new Message(
        type,
        to,
        from,
        term,
        logTerm,
        index,
        entries,
        newCommit,
        snapshot,
        reject,
        rejectHint,
        context);
  }

  Message withSnapshot(Snapshot newSnapshot) {
    return new Message(
        type,
        to,
        from,
        term,
        logTerm,
        index,
        entries,
        commit,
        newSnapshot,
        reject,
        rejectHint,
        context);
  }

  Message withReject(boolean newReject, long newRejectHint) {
    return new Message(
        type,
        to,
        from,
        term,
        logTerm,
        index,
        entries,
        commit,
        snapshot,
        newReject,
        newRejectHint,
        context);
  }

  Message withContext(byte[] newContext) {
    return new Message(
        type,
        to,
        from,
        term,
        logTerm,
        index,
        entries,
        commit,
        snapshot,
        reject,
        rejectHint,
        newContext);
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
