package io.ringkv.server.raft;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.WireFormat;
import io.ringkv.proto.internal.Command;
import io.ringkv.proto.v1.TxnRequest;
import io.ringkv.raft.Entry;
import io.ringkv.raft.EntryType;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Cuts committed entries into apply batches that each fit the partition store's limits (records and
 * bytes per atomic write), so no legal run of commands can make one batch the store refuses. Pure:
 * entries in, runs of entries out.
 *
 * <p>What a command writes is known only once it is applied, so each entry is weighed by an upper
 * bound read from its bytes without decoding values: one session record, plus one mutation per Put
 * or Delete, plus one per operation of a Txn (compares excluded). Bytes: the command's own size
 * bounds the keys and values it writes; session results (a Txn's GETs) are bounded by the service,
 * and {@link #RESULT_BYTES_SHARE} of the byte limit is left for them. An entry heavier than a whole
 * batch goes alone; the store then refuses it as before (the service's request limits keep that
 * from happening).
 */
final class ApplyBatchSplitter {
  /** Share of the store's byte limit given to command bytes; the rest is left for results. */
  static final double RESULT_BYTES_SHARE = 0.5;

  // Field numbers from the generated messages, so the splitter follows the wire format if it moves.
  private static final int COMMAND_PUT_FIELD = Command.PUT_FIELD_NUMBER;
  private static final int COMMAND_DELETE_FIELD = Command.DELETE_FIELD_NUMBER;
  private static final int COMMAND_TXN_FIELD = Command.TXN_FIELD_NUMBER;
  private static final int TXN_SUCCESS_FIELD = TxnRequest.SUCCESS_FIELD_NUMBER;
  private static final int TXN_FAILURE_FIELD = TxnRequest.FAILURE_FIELD_NUMBER;

  private final int recordsMax;
  private final long commandBytesMax;

  /**
   * @param recordsMax the store's most mutations plus session records in one batch
   * @param batchBytesMax the store's most payload bytes in one batch
   */
  ApplyBatchSplitter(int recordsMax, long batchBytesMax) {
    io.ringkv.raft.Invariants.check(recordsMax >= 2, "recordsMax must be >= 2");
    this.recordsMax = recordsMax;
    this.commandBytesMax = (long) (batchBytesMax * (1 - RESULT_BYTES_SHARE));
  }

  /** {@code entries} as consecutive runs, each within the limits (or a single heavy entry). */
  List<List<Entry>> split(List<Entry> entries) {
    List<List<Entry>> batches = new ArrayList<>();
    int start = 0;
    long records = 0;
    long bytes = 0;
    for (int i = 0; i < entries.size(); i++) {
      Entry entry = entries.get(i);
      long entryRecords = recordsUpperBound(entry);
      long entryBytes = entry.data().length;
      if (i > start
          && (records + entryRecords > recordsMax || bytes + entryBytes > commandBytesMax)) {
        batches.add(entries.subList(start, i));
        start = i;
        records = 0;
        bytes = 0;
      }
      records += entryRecords;
      bytes += entryBytes;
    }
    if (start < entries.size()) {
      batches.add(entries.subList(start, entries.size()));
    }
    return batches;
  }

  /** Most mutations plus session records applying {@code entry} can produce. */
  static long recordsUpperBound(Entry entry) {
    if (entry.type() != EntryType.NORMAL || entry.data().length == 0) {
      return 0; // leader no-ops and configuration changes write no user records
    }
    long records = 1; // a session record (the command's or its Txn's)
    try {
      CodedInputStream in = CodedInputStream.newInstance(entry.data());
      for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
        int field = WireFormat.getTagFieldNumber(tag);
        if (field == COMMAND_PUT_FIELD || field == COMMAND_DELETE_FIELD) {
          records++;
          in.skipField(tag);
        } else if (field == COMMAND_TXN_FIELD) {
          int limit = in.pushLimit(in.readRawVarint32());
          records += txnOpsUpperBound(in);
          in.popLimit(limit);
        } else {
          in.skipField(tag); // proposer, request id, time, session: no records of their own
        }
      }
    } catch (IOException e) {
      // Not decodable here; the state machine fails the replica loudly on it. Weigh it alone.
      return Long.MAX_VALUE / 4;
    }
    return records;
  }

  private static long txnOpsUpperBound(CodedInputStream in) throws IOException {
    long ops = 0;
    for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
      int field = WireFormat.getTagFieldNumber(tag);
      if (field == TXN_SUCCESS_FIELD || field == TXN_FAILURE_FIELD) {
        ops++;
      }
      in.skipField(tag);
    }
    return ops;
  }
}
