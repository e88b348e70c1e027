package io.ringkv.storage.raftlog;

import io.ringkv.raft.Entry;
import io.ringkv.raft.EntryType;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Shared helpers of the segmented log tests: options with small segments, entries with content. */
final class RaftLogFixtures {
  static final long SMALL_SEGMENT_SIZE_BYTES = 8 * 1024;

  private RaftLogFixtures() {}

  static SegmentedLogOptions small(Path directory) {
    return SegmentedLogOptions.defaults(directory).withSegmentSizeBytes(SMALL_SEGMENT_SIZE_BYTES);
  }

  /** The content of entry {@code index} of {@code group} written in {@code term}. */
  static byte[] payload(long group, long index, long term) {
    String text = "g" + group + "-i" + index + "-t" + term + "-" + "x".repeat((int) (index % 37));
    return text.getBytes(StandardCharsets.UTF_8);
  }

  static List<Entry> entries(long group, long first, int count, long term) {
    List<Entry> entries = new ArrayList<>(count);
    for (long index = first; index < first + count; index++) {
      entries.add(new Entry(term, index, EntryType.NORMAL, payload(group, index, term)));
    }
    return entries;
  }

  static LogRecord.Entries append(long group, long first, int count, long term) {
    return new LogRecord.Entries(group, entries(group, first, count, term));
  }
}
