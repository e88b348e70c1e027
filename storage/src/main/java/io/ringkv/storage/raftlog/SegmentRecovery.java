package io.ringkv.storage.raftlog;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads one segment at open and decides where its valid records end.
 *
 * <p>The rules: records are read in order from the header on. Where the next record is not whole or
 * its checksum does not match, the rest of the file decides. All zeros: the normal end of what was
 * written (segments are zero-filled when created). Otherwise, in a segment that is not the last,
 * that is damage in the middle of the log: refuse. In the last segment, the writer may have been
 * killed during its last batch, whose pages can reach the disk in any order; so if every valid
 * record found after the damage belongs to the batch right after the last good one (or to that same
 * batch), the damage is a torn tail: those bytes were never acknowledged, and they are zeroed. A
 * valid record of a later batch after the damage means an acknowledged batch was damaged: refuse,
 * naming file and offset.
 */
final class SegmentRecovery {
  private static final Logger log = LoggerFactory.getLogger(SegmentRecovery.class);

  /** Where valid records end, and the highest batch sequence seen so far. */
  record Result(int endOffset, long lastBatchSequence, boolean tornTail) {}

  private SegmentRecovery() {}

  /**
   * Feeds every valid record of {@code mapped} (with its offset) to {@code visitor} and returns
   * where they end. Throws {@link CorruptLogException} for damage a torn tail cannot explain.
   */
  static Result scan(
      Path path,
      ByteBuffer mapped,
      boolean lastSegment,
      long lastBatchSequenceBefore,
      BiConsumer<RecordCodec.Decoded, Integer> visitor) {
    int offset = Segment.HEADER_SIZE_BYTES;
    long lastSequence = lastBatchSequenceBefore;
    while (true) {
      RecordCodec.Decoded decoded = RecordCodec.tryDecode(mapped, offset);
      if (decoded == null) {
        break;
      }
      if (decoded.batchSequence() < lastSequence) {
        throw new CorruptLogException(
            path,
            offset,
            "batch sequence goes back from " + lastSequence + " to " + decoded.batchSequence());
      }
      lastSequence = decoded.batchSequence();
      visitor.accept(decoded, offset);
      offset += decoded.encodedSizeBytes();
    }
    if (allZero(mapped, offset)) {
      return new Result(offset, lastSequence, false);
    }
    if (!lastSegment) {
      throw new CorruptLogException(
          path, offset, "damaged record in a segment that is not the last (later segments follow)");
    }
    long laterSequence = laterBatchAfter(mapped, offset, lastSequence);
    if (laterSequence >= 0) {
      throw new CorruptLogException(
          path,
          offset,
          "damaged record followed by a valid record of later batch "
              + laterSequence
              + " (last good batch "
              + lastSequence
              + ")");
    }
    log.warn(
        "Raft log: truncating torn tail record of {} at offset {} (last good batch {});"
            + " the write it belonged to was never acknowledged",
        path,
        offset,
        lastSequence);
    return new Result(offset, lastSequence, true);
  }

  static boolean allZero(ByteBuffer mapped, int from) {
    int position = from;
    int limit = mapped.limit();
    for (; position + 8 <= limit; position += 8) {
      if (mapped.getLong(position) != 0) {
        return false;
      }
    }
    for (; position < limit; position++) {
      if (mapped.get(position) != 0) {
        return false;
      }
    }
    return true;
  }

  /** The batch sequence of a valid record past {@code from} newer than the torn batch, or -1. */
  private static long laterBatchAfter(ByteBuffer mapped, int from, long lastSequence) {
    for (int offset = from + RecordCodec.ALIGNMENT_BYTES;
        offset + RecordCodec.HEADER_SIZE_BYTES < mapped.limit();
        offset += RecordCodec.ALIGNMENT_BYTES) {
      if (mapped.getInt(offset) == 0) {
        continue;
      }
      RecordCodec.Decoded decoded = RecordCodec.tryDecode(mapped, offset);
      if (decoded != null && decoded.batchSequence() > lastSequence + 1) {
        return decoded.batchSequence();
      }
    }
    return -1;
  }
}
