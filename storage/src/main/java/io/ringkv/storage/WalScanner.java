package io.ringkv.storage;

import io.ringkv.raft.Invariants;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.zip.CRC32C;

/**
 * Finds the first damaged physical record of one RocksDB write-ahead log file, to name its offset.
 *
 * <p>RocksDB reports WAL damage by file and dropped byte count only; an operator deciding what to
 * restore wants the offset too. The framing read here is RocksDB's log format: 32 KiB blocks of
 * records, each with a header (masked CRC32C, length, type, and for recyclable types the log
 * number), a block tail shorter than a header padded with zeros. Only the framing and checksums are
 * checked, not the write batches inside. Read only on the failure path of an open, and only to
 * classify and describe damage RocksDB itself already reported: RocksDB stays the judge of whether
 * the log replays.
 */
final class WalScanner {
  static final int BLOCK_SIZE_BYTES = 32 * 1024;
  static final int HEADER_SIZE_BYTES = 7;
  static final int RECYCLABLE_HEADER_SIZE_BYTES = 11;

  /** RocksDB's CRC mask constant: stored checksums are masked so CRCs of CRCs stay distinct. */
  private static final int CRC_MASK_DELTA = 0xa282ead8;

  /** What is wrong with the record at {@link Finding#offset()}. */
  enum Damage {
    /** The file ends inside this record: what a write cut short by a crash leaves. */
    CUT_OFF_BY_END_OF_FILE,
    /** The header's length does not fit in its block. */
    BAD_LENGTH,
    /** The record is whole but its bytes do not match its checksum. */
    CHECKSUM_MISMATCH
  }

  /** The first damaged record: its offset in the file and what is wrong with it. */
  record Finding(long offset, Damage damage) {}

  private WalScanner() {}

  /** The first damaged record of {@code file}, or empty when its framing and checksums hold. */
  static Optional<Finding> firstDamage(Path file) throws IOException {
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = channel.size();
      ByteBuffer block = ByteBuffer.allocate(BLOCK_SIZE_BYTES).order(ByteOrder.LITTLE_ENDIAN);
      for (long blockStart = 0; blockStart < size; blockStart += BLOCK_SIZE_BYTES) {
        block.clear();
        while (block.hasRemaining() && channel.read(block, blockStart + block.position()) > 0) {
          // Reads until the block is full or the file ends.
        }
        block.flip();
        Optional<Finding> finding = scanBlock(block, blockStart, size);
        if (finding.isPresent()) {
          return finding;
        }
      }
      return Optional.empty();
    }
  }

  private static Optional<Finding> scanBlock(ByteBuffer block, long blockStart, long fileSize) {
    boolean lastBlock = blockStart + BLOCK_SIZE_BYTES >= fileSize;
    int position = 0;
    while (block.limit() - position >= HEADER_SIZE_BYTES) {
      int length = Short.toUnsignedInt(block.getShort(position + 4));
      int type = Byte.toUnsignedInt(block.get(position + 6));
      if (type == 0 && length == 0) {
        return Optional
            .empty(); // zero padding (preallocated space): the rest of the block is unused
      }
      int headerSize = recyclable(type) ? RECYCLABLE_HEADER_SIZE_BYTES : HEADER_SIZE_BYTES;
      int end = position + headerSize + length;
      if (end > block.limit()) {
        boolean cutOff = lastBlock && end <= BLOCK_SIZE_BYTES;
        return Optional.of(
            new Finding(
                blockStart + position, cutOff ? Damage.CUT_OFF_BY_END_OF_FILE : Damage.BAD_LENGTH));
      }
      if (!checksumMatches(block, position, headerSize, length)) {
        return Optional.of(new Finding(blockStart + position, Damage.CHECKSUM_MISMATCH));
      }
      position = end;
    }
    if (position < block.limit() && lastBlock && block.limit() < BLOCK_SIZE_BYTES) {
      // Fewer bytes than a header before the end of the file (not a padded block tail).
      return Optional.of(new Finding(blockStart + position, Damage.CUT_OFF_BY_END_OF_FILE));
    }
    return Optional.empty();
  }

  /** Recyclable record types carry the log number in a longer header (RocksDB's log_format). */
  private static boolean recyclable(int type) {
    return (type >= 5 && type <= 8) || type == 11 || type == 131;
  }

  private static boolean checksumMatches(
      ByteBuffer block, int position, int headerSize, int length) {
    Invariants.check(headerSize >= HEADER_SIZE_BYTES, "WAL header of %d bytes", headerSize);
    CRC32C crc = new CRC32C();
    // The checksum covers the type byte, the log number of recyclable headers, and the payload.
    crc.update(block.array(), position + 6, headerSize - 6 + length);
    int actual = (int) crc.getValue();
    int masked = ((actual >>> 15) | (actual << 17)) + CRC_MASK_DELTA;
    return masked == block.getInt(position);
  }
}
