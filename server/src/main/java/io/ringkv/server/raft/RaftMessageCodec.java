package io.ringkv.server.raft;

import com.google.protobuf.ByteString;
import io.ringkv.proto.internal.RaftConfState;
import io.ringkv.proto.internal.RaftEntry;
import io.ringkv.proto.internal.RaftEntryType;
import io.ringkv.proto.internal.RaftMessage;
import io.ringkv.proto.internal.RaftMessageType;
import io.ringkv.proto.internal.RaftSnapshot;
import io.ringkv.proto.internal.RaftSnapshotMetadata;
import io.ringkv.raft.ConfState;
import io.ringkv.raft.Entry;
import io.ringkv.raft.EntryType;
import io.ringkv.raft.Message;
import io.ringkv.raft.MessageType;
import io.ringkv.raft.Snapshot;
import io.ringkv.raft.SnapshotMetadata;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Maps the Raft core's {@link Message} onto the wire's {@link RaftMessage} and back. Decoding is
 * the boundary where bytes from another process become trusted values: anything the core could not
 * represent (unknown or local-only type, ids of 0, negative numbers) is refused with {@link
 * MalformedMessageException}, which the driver counts and drops instead of crashing.
 */
public final class RaftMessageCodec {
  private RaftMessageCodec() {}

  /** Thrown for a wire message that does not describe a valid core message. */
  public static final class MalformedMessageException extends RuntimeException {
    MalformedMessageException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  public static RaftMessage encode(Message message) {
    RaftMessage.Builder out =
        RaftMessage.newBuilder()
            .setType(wireType(message.type()))
            .setTo(message.to())
            .setFrom(message.from())
            .setTerm(message.term())
            .setLogTerm(message.logTerm())
            .setIndex(message.index())
            .setCommit(message.commit())
            .setReject(message.reject())
            .setRejectHint(message.rejectHint())
            .setContext(ByteString.copyFrom(message.context()));
    for (Entry entry : message.entries()) {
      out.addEntries(encodeEntry(entry));
    }
    if (!message.snapshot().isEmpty()) {
      out.setSnapshot(encodeSnapshot(message.snapshot()));
    }
    return out.build();
  }

  public static Message decode(RaftMessage wire) {
    try {
      List<Entry> entries = new ArrayList<>(wire.getEntriesCount());
      for (RaftEntry entry : wire.getEntriesList()) {
        entries.add(decodeEntry(entry));
      }
      Snapshot snapshot = wire.hasSnapshot() ? decodeSnapshot(wire.getSnapshot()) : Snapshot.EMPTY;
      require(wire.getTo() > 0 && wire.getFrom() > 0, "member ids must be > 0");
      return build(coreType(wire.getType()), wire, entries, snapshot);
    } catch (MalformedMessageException e) {
      throw e;
    } catch (RuntimeException e) {
      // The core's factories and records check their arguments; a violation here means bad input.
      throw new MalformedMessageException("malformed raft message: " + e.getMessage(), e);
    }
  }

  /**
   * Builds the core message through the factory of its type, which checks the fields that type uses
   * (an append's entries, for one); fields the type does not use are ignored.
   */
  private static Message build(
      MessageType type, RaftMessage wire, List<Entry> entries, Snapshot snapshot) {
    long to = wire.getTo();
    long from = wire.getFrom();
    long term = nonNegative(wire.getTerm(), "term");
    long logTerm = nonNegative(wire.getLogTerm(), "log_term");
    long index = nonNegative(wire.getIndex(), "index");
    long commit = nonNegative(wire.getCommit(), "commit");
    byte[] context = wire.getContext().toByteArray();
    return switch (type) {
      case PROPOSE -> Message.propose(to, from, entries);
      case APPEND -> Message.append(to, from, term, logTerm, index, entries, commit);
      case APPEND_RESPONSE ->
          wire.getReject()
              ? Message.appendRejected(
                  to, from, term, index, logTerm, nonNegative(wire.getRejectHint(), "reject_hint"))
              : Message.appendAccepted(to, from, term, index);
      case VOTE, PRE_VOTE ->
          Message.voteRequest(
              type == MessageType.PRE_VOTE,
              to,
              from,
              term,
              logTerm,
              index,
              Arrays.equals(context, Message.CAMPAIGN_TRANSFER));
      case VOTE_RESPONSE, PRE_VOTE_RESPONSE ->
          Message.voteResponse(
              type == MessageType.PRE_VOTE_RESPONSE, to, from, term, !wire.getReject());
      case SNAPSHOT -> Message.snapshot(to, from, term, snapshot);
      case HEARTBEAT -> Message.heartbeat(to, from, term, commit, index, context);
      case HEARTBEAT_RESPONSE -> Message.heartbeatResponse(to, from, term, index, context);
      case TIMEOUT_NOW -> Message.timeoutNow(to, from, term);
      case TRANSFER_LEADER -> Message.transferLeader(to, from);
      case READ_INDEX -> Message.readIndex(to, from, context);
      case READ_INDEX_RESPONSE -> Message.readIndexResponse(to, from, term, index, context);
    };
  }

  static RaftEntry encodeEntry(Entry entry) {
    return RaftEntry.newBuilder()
        .setTerm(entry.term())
        .setIndex(entry.index())
        .setType(
            entry.type() == EntryType.NORMAL
                ? RaftEntryType.ENTRY_NORMAL
                : RaftEntryType.ENTRY_CONF_CHANGE)
        .setData(ByteString.copyFrom(entry.data()))
        .build();
  }

  static Entry decodeEntry(RaftEntry wire) {
    EntryType type =
        switch (wire.getType()) {
          case ENTRY_NORMAL -> EntryType.NORMAL;
          case ENTRY_CONF_CHANGE -> EntryType.CONF_CHANGE;
          default -> throw malformed("unsupported entry type " + wire.getTypeValue());
        };
    return new Entry(wire.getTerm(), wire.getIndex(), type, wire.getData().toByteArray());
  }

  static RaftSnapshot encodeSnapshot(Snapshot snapshot) {
    SnapshotMetadata metadata = snapshot.metadata();
    ConfState conf = metadata.confState();
    return RaftSnapshot.newBuilder()
        .setMetadata(
            RaftSnapshotMetadata.newBuilder()
                .setIndex(metadata.index())
                .setTerm(metadata.term())
                .setConfState(
                    RaftConfState.newBuilder()
                        .addAllVoters(conf.voters())
                        .addAllLearners(conf.learners())
                        .addAllVotersOutgoing(conf.votersOutgoing())
                        .addAllLearnersNext(conf.learnersNext())
                        .setAutoLeave(conf.autoLeave())))
        .setData(ByteString.copyFrom(snapshot.data()))
        .build();
  }

  static Snapshot decodeSnapshot(RaftSnapshot wire) {
    RaftSnapshotMetadata metadata = wire.getMetadata();
    RaftConfState conf = metadata.getConfState();
    ConfState confState =
        new ConfState(
            ids(conf.getVotersList()),
            ids(conf.getLearnersList()),
            ids(conf.getVotersOutgoingList()),
            ids(conf.getLearnersNextList()),
            conf.getAutoLeave());
    return new Snapshot(
        new SnapshotMetadata(
            nonNegative(metadata.getIndex(), "snapshot index"),
            nonNegative(metadata.getTerm(), "snapshot term"),
            confState),
        wire.getData().toByteArray());
  }

  private static Set<Long> ids(List<Long> ids) {
    Set<Long> set = new HashSet<>(ids);
    require(set.size() == ids.size(), "duplicate member id in conf state");
    return set;
  }

  static RaftMessageType wireType(MessageType type) {
    return switch (type) {
      case PROPOSE -> RaftMessageType.MSG_PROP;
      case APPEND -> RaftMessageType.MSG_APP;
      case APPEND_RESPONSE -> RaftMessageType.MSG_APP_RESP;
      case VOTE -> RaftMessageType.MSG_VOTE;
      case VOTE_RESPONSE -> RaftMessageType.MSG_VOTE_RESP;
      case PRE_VOTE -> RaftMessageType.MSG_PRE_VOTE;
      case PRE_VOTE_RESPONSE -> RaftMessageType.MSG_PRE_VOTE_RESP;
      case SNAPSHOT -> RaftMessageType.MSG_SNAP;
      case HEARTBEAT -> RaftMessageType.MSG_HEARTBEAT;
      case HEARTBEAT_RESPONSE -> RaftMessageType.MSG_HEARTBEAT_RESP;
      case TIMEOUT_NOW -> RaftMessageType.MSG_TIMEOUT_NOW;
      case TRANSFER_LEADER -> RaftMessageType.MSG_TRANSFER_LEADER;
      case READ_INDEX -> RaftMessageType.MSG_READ_INDEX;
      case READ_INDEX_RESPONSE -> RaftMessageType.MSG_READ_INDEX_RESP;
    };
  }

  static MessageType coreType(RaftMessageType type) {
    return switch (type) {
      case MSG_PROP -> MessageType.PROPOSE;
      case MSG_APP -> MessageType.APPEND;
      case MSG_APP_RESP -> MessageType.APPEND_RESPONSE;
      case MSG_VOTE -> MessageType.VOTE;
      case MSG_VOTE_RESP -> MessageType.VOTE_RESPONSE;
      case MSG_PRE_VOTE -> MessageType.PRE_VOTE;
      case MSG_PRE_VOTE_RESP -> MessageType.PRE_VOTE_RESPONSE;
      case MSG_SNAP -> MessageType.SNAPSHOT;
      case MSG_HEARTBEAT -> MessageType.HEARTBEAT;
      case MSG_HEARTBEAT_RESP -> MessageType.HEARTBEAT_RESPONSE;
      case MSG_TIMEOUT_NOW -> MessageType.TIMEOUT_NOW;
      case MSG_TRANSFER_LEADER -> MessageType.TRANSFER_LEADER;
      case MSG_READ_INDEX -> MessageType.READ_INDEX;
      case MSG_READ_INDEX_RESP -> MessageType.READ_INDEX_RESPONSE;
      default -> throw malformed("message type " + type + " does not travel between nodes");
    };
  }

  private static long nonNegative(long value, String field) {
    // uint64 on the wire: values above Long.MAX_VALUE arrive negative and are never valid here.
    require(value >= 0, field + " out of range");
    return value;
  }

  private static void require(boolean condition, String message) {
    if (!condition) {
      throw malformed(message);
    }
  }

  private static MalformedMessageException malformed(String message) {
    return new MalformedMessageException(message, null);
  }
}
