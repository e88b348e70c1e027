package io.ringkv.server.raft;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import io.grpc.Status;
import io.ringkv.proto.internal.Command;
import io.ringkv.proto.internal.CommandResult;
import io.ringkv.proto.internal.SessionEntry;
import io.ringkv.proto.v1.Compare;
import io.ringkv.proto.v1.DeleteRequest;
import io.ringkv.proto.v1.DeleteResponse;
import io.ringkv.proto.v1.ErrorDetail;
import io.ringkv.proto.v1.GetRequest;
import io.ringkv.proto.v1.GetResponse;
import io.ringkv.proto.v1.KeyValue;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.proto.v1.PutResponse;
import io.ringkv.proto.v1.RequestOp;
import io.ringkv.proto.v1.ResponseOp;
import io.ringkv.proto.v1.TxnRequest;
import io.ringkv.proto.v1.TxnResponse;
import io.ringkv.proto.v1.WriteSession;
import io.ringkv.raft.ConfState;
import io.ringkv.raft.Entry;
import io.ringkv.raft.Invariants;
import io.ringkv.server.config.Limits;
import io.ringkv.storage.ApplyBatch;
import io.ringkv.storage.Mutation;
import io.ringkv.storage.PartitionReadView;
import io.ringkv.storage.PartitionStore;
import io.ringkv.storage.SessionRecord;
import io.ringkv.storage.StoredValue;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * One partition's replicated state machine: turns committed log entries into one atomic {@link
 * ApplyBatch} and the client-visible result of each command.
 *
 * <p>Design notes. Everything here is a function of the log: revisions are log indexes (etcd-like
 * create/mod revision and version), and the only clock is the proposer's millis carried in each
 * command, so every replica computes the same mutations, results, change records (each stamped with
 * its own command's time, never the batch's) and session expiries, however the entries were cut
 * into apply batches. Later commands of one batch must see earlier ones, so values and sessions
 * written by the batch are kept in overlays in front of one consistent read view. Sessions follow
 * the session contract: a repeated (sid, seq) is answered with the stored result and not applied
 * again, an older seq is refused. A session idle longer than the expiry the command carries
 * (session-expiry-millis, in command time) is expired: every write on it is refused with
 * SESSION_EXPIRED and nothing applies, so a late retry can never apply twice. A record idle for two
 * expiries is deleted by a sweep that depends only on the entry (see {@code sweepSessions}); after
 * that the id counts as new, so a client must not retry one write for longer than the expiry (its
 * call deadlines are far shorter). A session keeps its last result only up to {@link
 * #SESSION_RESULT_BYTES_MAX}; a retry of a write whose result was larger is told
 * RESULT_NOT_RETAINED with the revision it applied at.
 */
final class PartitionStateMachine {
  /** The outcome of one applied command entry. */
  record Applied(long index, long proposerNodeId, long requestId, CommandResult result) {}

  /** Room kept in a response for the header the server adds to a command's answer. */
  static final int RESPONSE_HEADER_BYTES = 1024;

  private static final int TXN_RESPONSES_FIELD = TxnResponse.RESPONSES_FIELD_NUMBER;

  /**
   * A session's result larger than this is not kept (a retry is told it applied, at which
   * revision).
   */
  static final int SESSION_RESULT_BYTES_MAX = 4 * 1024;

  /** Every this many entries, one slice of the session id space is swept for deletable records. */
  static final long SESSION_SWEEP_INTERVAL_ENTRIES = 64;

  /** The session id space is swept in 2^bits slices by the top bits of the id. */
  static final int SESSION_SWEEP_BUCKET_BITS = 12;

  static final long SESSION_SWEEP_BUCKETS = 1L << SESSION_SWEEP_BUCKET_BITS;

  /**
   * Most records one sweep deletes (the lowest ids first), so a slice crowded with idle sessions
   * never makes one apply batch larger than the store takes; the rest wait for the slice's next
   * turn.
   */
  static final int SESSION_SWEEP_DELETES_MAX = (int) SESSION_SWEEP_INTERVAL_ENTRIES;

  /**
   * A record is deleted once idle this many expiries (expired, but not yet deleted, in between).
   */
  static final long SESSION_DELETE_AFTER_EXPIRIES = 2;

  private final PartitionStore store;
  private final long sessionExpiryMillisDefault;

  /**
   * @param sessionExpiryMillisDefault the session expiry of commands that carry none (entries
   *     written before commands carried it)
   */
  PartitionStateMachine(PartitionStore store, long sessionExpiryMillisDefault) {
    Invariants.check(sessionExpiryMillisDefault > 0, "sessionExpiryMillisDefault must be > 0");
    this.store = store;
    this.sessionExpiryMillisDefault = sessionExpiryMillisDefault;
  }

  /**
   * Applies {@code entries} (contiguous, the first right after the applied index) in one atomic
   * batch, and returns the results of the command entries.
   *
   * @param confState the configuration after these entries, or null if unchanged
   */
  List<Applied> apply(List<Entry> entries, ConfState confState) {
    Invariants.check(!entries.isEmpty(), "apply of no entries");
    long appliedBefore = store.appliedState().index();
    Invariants.check(
        entries.getFirst().index() == appliedBefore + 1,
        "group %d: entry %d applied after %d",
        store.groupId(),
        entries.getFirst().index(),
        appliedBefore);
    List<Applied> results = new ArrayList<>();
    try (PartitionReadView view = store.readView()) {
      Batch batch = new Batch(view);
      long previous = appliedBefore;
      for (Entry entry : entries) {
        Invariants.check(entry.index() == previous + 1, "entries not contiguous");
        previous = entry.index();
        if (entry.type() != io.ringkv.raft.EntryType.NORMAL || entry.data().length == 0) {
          continue; // leader no-ops and conf changes carry no command
        }
        Command command = parse(entry);
        batch.timestampMillis = Math.max(batch.timestampMillis, command.getProposedAtMillis());
        batch.timestampMillisByRevision.put(entry.index(), command.getProposedAtMillis());
        if (command.getProposedAtLogical() != 0) {
          batch.hlcLogicalByRevision.put(entry.index(), command.getProposedAtLogical());
        }
        CommandResult result = batch.applyCommand(command, entry.index());
        results.add(
            new Applied(
                entry.index(), command.getProposerNodeId(), command.getRequestId(), result));
      }
      Entry last = entries.getLast();
      List<SessionRecord> sessions = new ArrayList<>(batch.sessions.values());
      store.apply(
          new ApplyBatch(
              last.index(),
              last.term(),
              confState,
              batch.timestampMillis,
              batch.mutations,
              sessions,
              batch.timestampMillisByRevision,
              batch.hlcLogicalByRevision),
          batch.readBefore);
    }
    Invariants.check(
        store.appliedState().index() == entries.getLast().index(),
        "group %d: applied index did not move to %d",
        store.groupId(),
        entries.getLast().index());
    return results;
  }

  private Command parse(Entry entry) {
    try {
      return Command.parseFrom(entry.data());
    } catch (InvalidProtocolBufferException e) {
      // Only this node's own code proposes; an unreadable entry is corruption, not bad input.
      throw new Invariants.InvariantViolation(
          "group " + store.groupId() + ": undecodable command at index " + entry.index());
    }
  }

  /** The state of one apply batch: pending mutations and session records over a read view. */
  private final class Batch {
    private final PartitionReadView view;
    private final Map<ByteBuffer, Optional<StoredValue>> values = new HashMap<>();

    /** Values as read from the store before this batch (handed to the store: no second read). */
    private final Map<ByteBuffer, Optional<StoredValue>> readBefore = new HashMap<>();

    private final Map<Long, SessionRecord> sessions = new LinkedHashMap<>();
    private final List<Mutation> mutations = new ArrayList<>();

    /** Overlay values a running Txn replaced, to restore if it is refused; null outside a Txn. */
    private Map<ByteBuffer, Optional<StoredValue>> undo;

    /** The latest command time of the batch; stamps nothing that has its own time. */
    long timestampMillis;

    /** Each command entry's own time: its change records carry it, whatever the batching. */
    private final Map<Long, Long> timestampMillisByRevision = new HashMap<>();

    /** Each command entry's HLC logical counter, where it is not 0. */
    private final Map<Long, Integer> hlcLogicalByRevision = new HashMap<>();

    Batch(PartitionReadView view) {
      this.view = view;
    }

    CommandResult applyCommand(Command command, long index) {
      WriteSession session = command.getSession();
      long sessionId = session.getSessionId();
      long now = command.getProposedAtMillis();
      long expiryMillis =
          command.getSessionExpiryMillis() > 0
              ? command.getSessionExpiryMillis()
              : sessionExpiryMillisDefault;
      if (index % SESSION_SWEEP_INTERVAL_ENTRIES == 0) {
        sweepSessions(index, now, expiryMillis);
      }
      if (sessionId != 0) {
        SessionRecord record = session(sessionId);
        if (record != null) {
          SessionEntry entry = sessionEntry(record);
          if (now - entry.getLastWriteMillis() > expiryMillis) {
            return CommandErrors.sessionExpired(session, record, expiryMillis);
          }
          if (session.getSequence() == record.lastSequence()) {
            return storedResult(entry);
          }
          if (session.getSequence() < record.lastSequence()) {
            return CommandErrors.error(
                Status.Code.FAILED_PRECONDITION,
                "stale session sequence",
                ErrorDetail.Reason.MALFORMED);
          }
        }
      }
      CommandResult result =
          switch (command.getOpCase()) {
            case PUT -> CommandResult.newBuilder().setPut(put(command.getPut(), index)).build();
            case DELETE ->
                CommandResult.newBuilder().setDelete(delete(command.getDelete(), index)).build();
            case TXN -> txnWithinLimit(command.getTxn(), index, responseSizeBytesMax(command));
            case OP_NOT_SET ->
                CommandErrors.error(
                    Status.Code.INVALID_ARGUMENT, "empty command", ErrorDetail.Reason.MALFORMED);
          };
      if (sessionId != 0) {
        SessionEntry.Builder entry =
            SessionEntry.newBuilder().setLastWriteMillis(now).setAppliedRevision(index);
        if (result.getSerializedSize() <= SESSION_RESULT_BYTES_MAX) {
          entry.setResult(result);
        } else {
          entry.setResultNotRetained(true);
        }
        sessions.put(
            sessionId,
            new SessionRecord(sessionId, session.getSequence(), entry.build().toByteArray()));
      }
      return result;
    }

    /** The session's record as of this command (batch overlay first), or null. */
    private SessionRecord session(long sessionId) {
      SessionRecord record = sessions.get(sessionId);
      if (record == null) {
        record = store.currentSession(sessionId, view).orElse(null);
      }
      return record == null || record.removed() ? null : record;
    }

    /**
     * Deletes the records of one slice of the session id space that have been idle for twice the
     * expiry. Which slice, and what counts as idle, follow from the entry alone (its index and
     * command time) and the state before it, so every replica deletes the same records at the same
     * entry whatever its batching. Between one and two expiries a record stays, so a late retry is
     * told SESSION_EXPIRED rather than taken for a new session.
     */
    private void sweepSessions(long index, long now, long expiryMillis) {
      long bucket = (index / SESSION_SWEEP_INTERVAL_ENTRIES) % SESSION_SWEEP_BUCKETS;
      long first = bucket << (Long.SIZE - SESSION_SWEEP_BUCKET_BITS);
      long last = first | (-1L >>> SESSION_SWEEP_BUCKET_BITS);
      Map<Long, SessionRecord> slice = new TreeMap<>(Long::compareUnsigned);
      for (SessionRecord stored : view.sessions(first, last)) {
        slice.put(stored.sessionId(), stored);
      }
      for (SessionRecord pending : sessions.values()) {
        if (pending.sessionId() >>> (Long.SIZE - SESSION_SWEEP_BUCKET_BITS) == bucket) {
          slice.put(pending.sessionId(), pending);
        }
      }
      long horizonMillis = SESSION_DELETE_AFTER_EXPIRIES * expiryMillis;
      int deleted = 0;
      for (SessionRecord record : slice.values()) {
        if (deleted == SESSION_SWEEP_DELETES_MAX) {
          break;
        }
        if (!record.removed() && now - sessionEntry(record).getLastWriteMillis() > horizonMillis) {
          sessions.put(record.sessionId(), SessionRecord.removal(record.sessionId()));
          deleted++;
        }
      }
    }

    private SessionEntry sessionEntry(SessionRecord record) {
      try {
        return SessionEntry.parseFrom(record.response());
      } catch (InvalidProtocolBufferException e) {
        throw new Invariants.InvariantViolation(
            "group " + store.groupId() + ": undecodable session " + record.sessionId());
      }
    }

    private CommandResult storedResult(SessionEntry entry) {
      if (entry.getResultNotRetained()) {
        return CommandErrors.error(
            Status.Code.ALREADY_EXISTS,
            "this write of the session was applied at revision "
                + entry.getAppliedRevision()
                + ", but its result was over "
                + SESSION_RESULT_BYTES_MAX
                + " bytes and is not retained",
            ErrorDetail.Reason.RESULT_NOT_RETAINED);
      }
      return entry.getResult();
    }

    private StoredValue read(byte[] key) {
      return values
          .computeIfAbsent(
              ByteBuffer.wrap(key),
              k -> {
                Optional<StoredValue> stored = store.currentValue(key, view);
                readBefore.put(k, stored);
                return stored;
              })
          .orElse(null);
    }

    private PutResponse put(PutRequest request, long index) {
      byte[] key = request.getKey().toByteArray();
      byte[] value = request.getValue().toByteArray();
      StoredValue previous = read(key);
      StoredValue next =
          previous == null
              ? new StoredValue(value, index, index, 1)
              : new StoredValue(value, previous.createRevision(), index, previous.version() + 1);
      beforeWrite(ByteBuffer.wrap(key));
      values.put(ByteBuffer.wrap(key), Optional.of(next));
      mutations.add(new Mutation.Put(key, value, index));
      PutResponse.Builder response = PutResponse.newBuilder().setRevision(index);
      if (previous != null) {
        response.setPrevFound(true);
        if (request.getPrevKv()) {
          response.setPrev(keyValue(key, previous));
        }
      }
      return response.build();
    }

    private DeleteResponse delete(DeleteRequest request, long index) {
      byte[] key = request.getKey().toByteArray();
      StoredValue previous = read(key);
      DeleteResponse.Builder response = DeleteResponse.newBuilder().setRevision(index);
      if (previous != null) {
        beforeWrite(ByteBuffer.wrap(key));
        values.put(ByteBuffer.wrap(key), Optional.empty());
        mutations.add(new Mutation.Delete(key, index));
        response.setDeleted(true);
        if (request.getPrevKv()) {
          response.setPrev(keyValue(key, previous));
        }
      }
      return response.build();
    }

    private GetResponse get(GetRequest request) {
      StoredValue value = read(request.getKey().toByteArray());
      GetResponse.Builder response = GetResponse.newBuilder();
      if (value != null) {
        response
            .setFound(true)
            .setValue(ByteString.copyFrom(value.value()))
            .setCreateRevision(value.createRevision())
            .setModRevision(value.modRevision())
            .setVersion(value.version());
      }
      return response.build();
    }

    /**
     * Runs a Txn, or refuses it when its answer would outgrow {@code responseSizeBytesMax}: then
     * none of its writes stays in the batch (they are rolled back from the overlays).
     */
    private CommandResult txnWithinLimit(
        TxnRequest request, long index, long responseSizeBytesMax) {
      int mutationsBefore = mutations.size();
      undo = new HashMap<>();
      try {
        TxnResponse response = txn(request, index, responseSizeBytesMax - RESPONSE_HEADER_BYTES);
        if (response != null) {
          return CommandResult.newBuilder().setTxn(response).build();
        }
        mutations.subList(mutationsBefore, mutations.size()).clear();
        values.putAll(undo);
        return CommandErrors.responseTooLarge(responseSizeBytesMax);
      } finally {
        undo = null;
      }
    }

    /** The Txn's answer, or null as soon as it would exceed {@code answerBytesMax}. */
    private TxnResponse txn(TxnRequest request, long index, long answerBytesMax) {
      boolean succeeded = true;
      for (Compare compare : request.getCompareList()) {
        succeeded &= holds(compare);
      }
      TxnResponse.Builder response =
          TxnResponse.newBuilder().setSucceeded(succeeded).setRevision(index);
      long answerBytes = response.build().getSerializedSize();
      for (RequestOp op : succeeded ? request.getSuccessList() : request.getFailureList()) {
        ResponseOp.Builder out = ResponseOp.newBuilder();
        switch (op.getOpCase()) {
          case GET -> out.setGet(get(op.getGet()));
          case PUT -> out.setPut(put(op.getPut(), index));
          case DELETE -> out.setDelete(delete(op.getDelete(), index));
          case OP_NOT_SET -> {} // refused by validation before proposing; answered empty
        }
        ResponseOp answered = out.build();
        answerBytes += CodedOutputStream.computeMessageSize(TXN_RESPONSES_FIELD, answered);
        if (answerBytes > answerBytesMax) {
          return null;
        }
        response.addResponses(answered);
      }
      return response.build();
    }

    /** Remembers a key's overlay value before a Txn's write changes it (for a rollback). */
    private void beforeWrite(ByteBuffer key) {
      if (undo != null && !undo.containsKey(key)) {
        undo.put(key, values.get(key));
      }
    }

    private boolean holds(Compare compare) {
      StoredValue value = read(compare.getKey().toByteArray());
      int order;
      switch (compare.getTarget()) {
        case VALUE -> {
          if (value == null) {
            return false; // a missing key has no value to compare
          }
          order = Arrays.compareUnsigned(value.value(), compare.getValue().toByteArray());
        }
        case VERSION ->
            order = Long.compare(value == null ? 0 : value.version(), compare.getVersion());
        case MOD_REVISION ->
            order = Long.compare(value == null ? 0 : value.modRevision(), compare.getModRevision());
        case CREATE_REVISION ->
            order =
                Long.compare(
                    value == null ? 0 : value.createRevision(), compare.getCreateRevision());
        default -> {
          return false;
        }
      }
      return switch (compare.getResult()) {
        case EQUAL -> order == 0;
        case NOT_EQUAL -> order != 0;
        case GREATER -> order > 0;
        case LESS -> order < 0;
        default -> false;
      };
    }
  }

  /** The response limit a command carries, or the default for entries written before it did. */
  private static long responseSizeBytesMax(Command command) {
    return command.getResponseSizeBytesMax() > 0
        ? command.getResponseSizeBytesMax()
        : Limits.RESPONSE_SIZE_BYTES_MAX_DEFAULT;
  }

  static KeyValue keyValue(byte[] key, StoredValue value) {
    return KeyValue.newBuilder()
        .setKey(ByteString.copyFrom(key))
        .setValue(ByteString.copyFrom(value.value()))
        .setCreateRevision(value.createRevision())
        .setModRevision(value.modRevision())
        .setVersion(value.version())
        .build();
  }
}
