package io.ringkv.storage.raftlog;

import io.ringkv.storage.StorageException;
import java.nio.file.Path;

/**
 * A segment of the Raft log is damaged where a torn last write cannot explain it: the node refuses
 * to start rather than lose or invent acknowledged entries. Names the file and byte offset.
 */
public final class CorruptLogException extends StorageException {
  private final Path file;
  private final long offset;

  public CorruptLogException(Path file, long offset, String problem) {
    super("corrupt Raft log segment " + file + " at offset " + offset + ": " + problem);
    this.file = file;
    this.offset = offset;
  }

  public Path file() {
    return file;
  }

  public long offset() {
    return offset;
  }
}
