package io.ringkv.storage.raftlog;

import io.ringkv.raft.Entry;
import io.ringkv.raft.EntryType;
import io.ringkv.raft.HardState;
import io.ringkv.raft.Invariants;
import io.ringkv.storage.raftlog.LogRecord.CompactMark;
import io.ringkv.storage.raftlog.LogRecord.Destroy;
import io.ringkv.storage.raftlog.LogRecord.Entries;
import io.ringkv.storage.raftlog.LogRecord.HardStateMark;
import io.ringkv.storage.raftlog.LogRecord.Truncate;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * The on-disk form of a {@link LogRecord}.
 *
 * <p>A record is {@code u32 bodyLength, u32 crc32c(body), body}, padded with zeros to a multiple of
 * {@link #ALIGNMENT_BYTES} so that recovery can look for records after a damaged one at aligned
 * offsets. The body is {@code u8 kind, u64 batchSequence, u64 groupId, payload}. The batch sequence
 * grows by one per fsynced batch across all segments: recovery uses it to tell a torn last batch
 * (only records of that batch follow the damage) from damage in the middle (later batches follow).
 */
final class RecordCodec {
  static final int HEADER_SIZE_BYTES = 8;
  static final int ALIGNMENT_BYTES = 8;
  static final int BODY_PREFIX_SIZE_BYTES = 1 + 8 + 8;

  private RecordCodec() {}

  static final byte KIND_ENTRIES = 1;
  static final byte KIND_TRUNCATE = 2;
  static final byte KIND_COMPACT = 3;
  static final byte KIND_HARD_STATE = 4;
  static final byte KIND_DESTROY = 5;

  /** Bytes the record takes on disk, header and padding included. */
  static int encodedSizeBytes(LogRecord record) {
    return align(HEADER_SIZE_BYTES + BODY_PREFIX_SIZE_BYTES + payloadSizeBytes(record));
  }

  static int align(int sizeBytes) {
    return (sizeBytes + ALIGNMENT_BYTES - 1) / ALIGNMENT_BYTES * ALIGNMENT_BYTES;
  }

  private static int payloadSizeBytes(LogRecord record) {
    return switch (record) {
      case Entries e -> {
        long size = 8 + 4;
        for (Entry entry : e.entries()) {
          size += 8 + 1 + 4 + entry.data().length;
        }
        Invariants.check(size < Integer.MAX_VALUE / 2, "entries record of %d bytes", size);
        yield (int) size;
      }
      case Truncate t -> 8;
      case CompactMark c -> 8 + 8 + 1;
      case HardStateMark h -> 24;
      case Destroy d -> 0;
    };
  }

  /** Writes {@code record} at the buffer's position (which must be aligned), padding included. */
  static void encode(LogRecord record, long batchSequence, ByteBuffer out) {
    int start = out.position();
    Invariants.check(start % ALIGNMENT_BYTES == 0, "record at unaligned position %d", start);
    int bodyStart = start + HEADER_SIZE_BYTES;
    out.position(bodyStart);
    out.put(kind(record)).putLong(batchSequence).putLong(record.groupId());
    switch (record) {
      case Entries e -> {
        out.putLong(e.firstIndex()).putInt(e.entries().size());
        for (Entry entry : e.entries()) {
          out.putLong(entry.term()).put((byte) entry.type().code()).putInt(entry.data().length);
          out.put(entry.data());
        }
      }
      case Truncate t -> out.putLong(t.fromIndex());
      case CompactMark c ->
          out.putLong(c.index()).putLong(c.term()).put((byte) (c.reset() ? 1 : 0));
      case HardStateMark h ->
          out.putLong(h.hardState().term())
              .putLong(h.hardState().vote())
              .putLong(h.hardState().commit());
      case Destroy d -> {}
    }
    int bodyLength = out.position() - bodyStart;
    CRC32C crc = new CRC32C();
    crc.update(out.slice(bodyStart, bodyLength));
    out.putInt(start, bodyLength).putInt(start + 4, (int) crc.getValue());
    int end = start + align(HEADER_SIZE_BYTES + bodyLength);
    while (out.position() < end) {
      out.put((byte) 0);
    }
    Invariants.check(
        end - start == encodedSizeBytes(record),
        "record encoded to %d bytes, expected %d",
        end - start,
        encodedSizeBytes(record));
  }

  private static byte kind(LogRecord record) {
    return switch (record) {
      case Entries e -> KIND_ENTRIES;
      case Truncate t -> KIND_TRUNCATE;
      case CompactMark c -> KIND_COMPACT;
      case HardStateMark h -> KIND_HARD_STATE;
      case Destroy d -> KIND_DESTROY;
    };
  }

  /** A record read back, with the batch it was written in and its on-disk size. */
  record Decoded(LogRecord record, long batchSequence, int encodedSizeBytes) {}

  /**
   * The record at {@code offset} of {@code segment}, or null if the bytes there are not a whole
   * record with a matching checksum (torn, damaged, or never written).
   */
  static Decoded tryDecode(ByteBuffer segment, int offset) {
    if (offset + HEADER_SIZE_BYTES + BODY_PREFIX_SIZE_BYTES > segment.limit()) {
      return null;
    }
    int bodyLength = segment.getInt(offset);
    if (bodyLength < BODY_PREFIX_SIZE_BYTES
        || bodyLength > segment.limit() - offset - HEADER_SIZE_BYTES) {
      return null;
    }
    ByteBuffer body = segment.slice(offset + HEADER_SIZE_BYTES, bodyLength);
    CRC32C crc = new CRC32C();
    crc.update(body.duplicate());
    if ((int) crc.getValue() != segment.getInt(offset + 4)) {
      return null;
    }
    try {
      byte kind = body.get();
      long sequence = body.getLong();
      long groupId = body.getLong();
      LogRecord record = decodePayload(kind, groupId, body);
      if (record == null || body.hasRemaining()) {
        return null;
      }
      return new Decoded(record, sequence, align(HEADER_SIZE_BYTES + bodyLength));
    } catch (RuntimeException e) {
      // A checksum that matches over a malformed body: a writer bug, reported as damage.
      return null;
    }
  }

  private static LogRecord decodePayload(byte kind, long groupId, ByteBuffer body) {
    return switch (kind) {
      case KIND_ENTRIES -> {
        long first = body.getLong();
        int count = body.getInt();
        if (count <= 0 || count > body.remaining()) {
          yield null;
        }
        List<Entry> entries = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
          long term = body.getLong();
          EntryType type = EntryType.fromCode(body.get());
          byte[] data = new byte[body.getInt()];
          body.get(data);
          entries.add(new Entry(term, first + i, type, data));
        }
        yield new Entries(groupId, entries);
      }
      case KIND_TRUNCATE -> new Truncate(groupId, body.getLong());
      case KIND_COMPACT ->
          new CompactMark(groupId, body.getLong(), body.getLong(), body.get() == 1);
      case KIND_HARD_STATE ->
          new HardStateMark(groupId, new HardState(body.getLong(), body.getLong(), body.getLong()));
      case KIND_DESTROY -> new Destroy(groupId);
      default -> null;
    };
  }
}
