package io.ringkv.storage.raftlog;

import io.ringkv.raft.Invariants;
import io.ringkv.storage.StorageException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;

/**
 * One segment file: a {@link #HEADER_SIZE_BYTES}-byte header (magic, format version, sequence
 * number, checksum) followed by records. Files are created under a temporary name, filled with
 * zeros to their full size, synced and only then renamed: a file with a segment's name always has a
 * valid header, and appends never change the file's size, so an fdatasync per batch flushes data
 * only.
 */
final class Segment implements AutoCloseable {
  static final int HEADER_SIZE_BYTES = 32;
  static final long MAGIC = 0x524b_565f_524c_4f47L; // "RKV_RLOG"
  static final int VERSION = 1;
  static final String SUFFIX = ".seg";
  private static final int ZERO_FILL_CHUNK_BYTES = 1024 * 1024;

  final long sequence;
  final Path path;
  final FileChannel channel;
  final long sizeBytes;

  private Segment(long sequence, Path path, FileChannel channel, long sizeBytes) {
    this.sequence = sequence;
    this.path = path;
    this.channel = channel;
    this.sizeBytes = sizeBytes;
  }

  static String fileName(long sequence) {
    return String.format("%020d%s", sequence, SUFFIX);
  }

  /** The sequence number in a segment's file name, or -1 if it is not a segment's name. */
  static long sequenceOf(Path file) {
    String name = file.getFileName().toString();
    if (!name.endsWith(SUFFIX) || name.length() != 20 + SUFFIX.length()) {
      return -1;
    }
    try {
      return Long.parseLong(name.substring(0, 20));
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  /** Creates, preallocates and syncs a new segment, then makes its name (and directory) durable. */
  static Segment create(Path directory, long sequence, long sizeBytes) throws IOException {
    return install(directory, sequence, prepareFile(directory, sequence, sizeBytes));
  }

  /** {@link #prepareFile} for a background thread: failures come back unchecked. */
  static Path prepare(Path directory, long sequence, long sizeBytes) {
    try {
      return prepareFile(directory, sequence, sizeBytes);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Writes a whole segment (zeros and header) under a temporary name and syncs it; recovery deletes
   * such files, so one left by a crash is harmless.
   */
  static Path prepareFile(Path directory, long sequence, long sizeBytes) throws IOException {
    Path temporary = directory.resolve(fileName(sequence) + ".tmp");
    try (FileChannel channel =
        FileChannel.open(
            temporary,
            StandardOpenOption.CREATE,
            StandardOpenOption.TRUNCATE_EXISTING,
            StandardOpenOption.WRITE)) {
      ByteBuffer zeros = ByteBuffer.allocateDirect(ZERO_FILL_CHUNK_BYTES);
      for (long position = 0; position < sizeBytes; ) {
        zeros.clear().limit((int) Math.min(ZERO_FILL_CHUNK_BYTES, sizeBytes - position));
        position += channel.write(zeros, position);
      }
      writeFully(channel, header(sequence), 0);
      channel.force(true);
    }
    return temporary;
  }

  /** Gives a prepared file its segment name, durably, and opens it. */
  static Segment install(Path directory, long sequence, Path prepared) throws IOException {
    Path path = directory.resolve(fileName(sequence));
    Files.move(prepared, path, StandardCopyOption.ATOMIC_MOVE);
    syncDirectory(directory);
    return open(path, sequence);
  }

  static Segment open(Path path, long sequence) throws IOException {
    FileChannel channel = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
    return new Segment(sequence, path, channel, channel.size());
  }

  static ByteBuffer header(long sequence) {
    ByteBuffer header = ByteBuffer.allocate(HEADER_SIZE_BYTES);
    header.putLong(MAGIC).putInt(VERSION).putInt(0).putLong(sequence);
    CRC32C crc = new CRC32C();
    crc.update(header.array(), 0, 24);
    header.putInt((int) crc.getValue()).putInt(0).flip();
    return header;
  }

  /** Checks the header of a mapped segment; throws naming the file if it is not ours or damaged. */
  static void checkHeader(Path path, ByteBuffer mapped, long sequence) {
    if (mapped.limit() < HEADER_SIZE_BYTES) {
      throw new CorruptLogException(path, 0, "shorter than a segment header");
    }
    ByteBuffer expected = header(sequence);
    if (mapped.getLong(0) != MAGIC) {
      throw new CorruptLogException(path, 0, "not a ringkv Raft log segment (bad magic)");
    }
    if (mapped.getInt(8) != VERSION) {
      throw new CorruptLogException(
          path, 8, "segment format version " + mapped.getInt(8) + ", this build reads " + VERSION);
    }
    if (!mapped.slice(0, HEADER_SIZE_BYTES).equals(expected)) {
      throw new CorruptLogException(path, 0, "segment header damaged or misnamed");
    }
  }

  static void writeFully(FileChannel channel, ByteBuffer buffer, long position) throws IOException {
    long at = position;
    while (buffer.hasRemaining()) {
      at += channel.write(buffer, at);
    }
  }

  static void readFully(FileChannel channel, ByteBuffer buffer, long position) throws IOException {
    long at = position;
    while (buffer.hasRemaining()) {
      int read = channel.read(buffer, at);
      if (read < 0) {
        throw new IOException("end of file at " + at);
      }
      at += read;
    }
  }

  static void syncDirectory(Path directory) {
    try (FileChannel channel = FileChannel.open(directory, StandardOpenOption.READ)) {
      channel.force(true);
    } catch (IOException e) {
      throw new StorageException("sync directory " + directory + " failed", e);
    }
  }

  /**
   * The record at {@code offset}, its checksum verified; damage is reported with file and offset.
   */
  RecordCodec.Decoded read(long offset) throws IOException {
    Invariants.check(offset >= HEADER_SIZE_BYTES, "record offset %d inside the header", offset);
    ByteBuffer header = ByteBuffer.allocate(RecordCodec.HEADER_SIZE_BYTES);
    readFully(channel, header, offset);
    int bodyLength = header.getInt(0);
    if (bodyLength < RecordCodec.BODY_PREFIX_SIZE_BYTES
        || offset + RecordCodec.HEADER_SIZE_BYTES + bodyLength > sizeBytes) {
      throw new CorruptLogException(path, offset, "bad record length " + bodyLength);
    }
    ByteBuffer record = ByteBuffer.allocate(RecordCodec.HEADER_SIZE_BYTES + bodyLength);
    record.put(header.flip());
    readFully(channel, record, offset + RecordCodec.HEADER_SIZE_BYTES);
    RecordCodec.Decoded decoded = RecordCodec.tryDecode(record.clear(), 0);
    if (decoded == null) {
      throw new CorruptLogException(path, offset, "record checksum mismatch on read");
    }
    return decoded;
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }
}
