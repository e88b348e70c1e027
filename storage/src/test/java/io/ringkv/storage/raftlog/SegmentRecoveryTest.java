package io.ringkv.storage.raftlog;

import static io.ringkv.storage.raftlog.RaftLogFixtures.append;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * Proves the recovery rules of the segmented Raft log against damage planted in the files: a torn
 * last record (a partial write at the end of the last segment, including one whose first pages were
 * lost while later pages of the same batch reached the disk) is dropped with a log line naming file
 * and offset, and the log goes on from there; a bad checksum followed by a later batch, or in a
 * segment that is not the last, refuses to open with the file and offset in the error.
 */
class SegmentRecoveryTest {
  private static final long GROUP = 7;
  private static final int BATCHES = 20;
  private static final int ENTRIES_PER_BATCH = 3;

  @TempDir Path directory;

  /** Writes BATCHES batches of one entries record each, into one segment. */
  private static void writeBatches(SegmentedLogOptions options) {
    try (SegmentedLog log = SegmentedLog.open(options)) {
      for (int batch = 0; batch < BATCHES; batch++) {
        long first = 1 + (long) batch * ENTRIES_PER_BATCH;
        log.write(List.of(append(GROUP, first, ENTRIES_PER_BATCH, 1)));
      }
    }
  }

  private Path segmentFile(long sequence) {
    return directory.resolve(Segment.fileName(sequence));
  }

  /** Offsets of every record in the segment, found by decoding it as recovery does. */
  private static List<Integer> recordOffsets(Path file) throws IOException {
    List<Integer> offsets = new ArrayList<>();
    try (var channel = java.nio.channels.FileChannel.open(file)) {
      var mapped = channel.map(java.nio.channels.FileChannel.MapMode.READ_ONLY, 0, channel.size());
      SegmentRecovery.scan(file, mapped, true, 0, (decoded, offset) -> offsets.add(offset));
    }
    return offsets;
  }

  private static void overwrite(Path file, long offset, byte[] bytes) throws IOException {
    try (RandomAccessFile raw = new RandomAccessFile(file.toFile(), "rw")) {
      raw.seek(offset);
      raw.write(bytes);
    }
  }

  private static byte[] read(Path file, long offset, int length) throws IOException {
    try (RandomAccessFile raw = new RandomAccessFile(file.toFile(), "r")) {
      byte[] bytes = new byte[length];
      raw.seek(offset);
      raw.readFully(bytes);
      return bytes;
    }
  }

  private ListAppender<ILoggingEvent> captureRecoveryLog() {
    Logger logger = (Logger) LoggerFactory.getLogger(SegmentRecovery.class);
    ListAppender<ILoggingEvent> appender = new ListAppender<>();
    appender.start();
    logger.addAppender(appender);
    return appender;
  }

  @Test
  void tornTailRecordIsTruncatedWithALogLineNamingFileAndOffset() throws IOException {
    SegmentedLogOptions options = SegmentedLogOptions.defaults(directory);
    writeBatches(options);
    Path file = segmentFile(1);
    List<Integer> offsets = recordOffsets(file);
    int last = offsets.getLast();
    // A partial write: the last record's header and first bytes made it, the rest did not.
    int recordSize = RecordCodec.encodedSizeBytes(append(GROUP, 58, 3, 1));
    overwrite(file, last + 16, new byte[recordSize - 16]);

    ListAppender<ILoggingEvent> logged = captureRecoveryLog();
    try (SegmentedLog log = SegmentedLog.open(options)) {
      assertThat(log.lastIndex(GROUP)).isEqualTo((BATCHES - 1) * ENTRIES_PER_BATCH);
      // The log goes on where the torn record was.
      log.write(List.of(append(GROUP, log.lastIndex(GROUP) + 1, 2, 2)));
    }
    assertThat(logged.list)
        .singleElement()
        .satisfies(event -> {
          assertThat(event.getLevel().toString()).isEqualTo("WARN");
          assertThat(event.getFormattedMessage())
              .contains(file.toString())
              .contains("offset " + last);
        });
    try (SegmentedLog log = SegmentedLog.open(options)) {
      assertThat(log.lastIndex(GROUP)).isEqualTo((BATCHES - 1) * ENTRIES_PER_BATCH + 2);
      assertThat(log.entries(GROUP, 1, log.lastIndex(GROUP) + 1, Long.MAX_VALUE))
          .hasSize((BATCHES - 1) * ENTRIES_PER_BATCH + 2);
    }
  }

  @Test
  void tornBatchWhoseLaterPagesReachedTheDiskIsTruncated() throws IOException {
    SegmentedLogOptions options = SegmentedLogOptions.defaults(directory);
    try (SegmentedLog log = SegmentedLog.open(options)) {
      log.write(List.of(append(GROUP, 1, 3, 1)));
      // One batch of three records: a crash may persist its last record but not its first.
      log.write(
          List.of(append(GROUP, 4, 3, 1), append(GROUP + 1, 1, 3, 1), append(GROUP + 2, 1, 3, 1)));
    }
    Path file = segmentFile(1);
    List<Integer> offsets = recordOffsets(file);
    overwrite(file, offsets.get(1), new byte[offsets.get(2) - offsets.get(1)]);

    try (SegmentedLog log = SegmentedLog.open(options)) {
      assertThat(log.lastIndex(GROUP)).isEqualTo(3);
      assertThat(log.lastIndex(GROUP + 1)).isZero();
      assertThat(log.lastIndex(GROUP + 2)).isZero();
    }
  }

  @Test
  void badChecksumInTheMiddleRefusesToOpenNamingFileAndOffset() throws IOException {
    SegmentedLogOptions options = SegmentedLogOptions.defaults(directory);
    writeBatches(options);
    Path file = segmentFile(1);
    int middle = recordOffsets(file).get(BATCHES / 2);
    byte[] flipped = read(file, middle + 30, 1);
    flipped[0] ^= 0x5a;
    overwrite(file, middle + 30, flipped);

    assertThatThrownBy(() -> SegmentedLog.open(options).close())
        .isInstanceOf(CorruptLogException.class)
        .hasMessageContaining(file.toString())
        .hasMessageContaining("offset " + middle)
        .satisfies(e -> assertThat(((CorruptLogException) e).offset()).isEqualTo(middle));
  }

  @Test
  void badChecksumInASegmentThatIsNotTheLastRefusesToOpen() throws IOException {
    SegmentedLogOptions options = RaftLogFixtures.small(directory);
    try (SegmentedLog log = SegmentedLog.open(options)) {
      for (long first = 1; log.segmentSequences().size() < 3; first += 10) {
        log.write(List.of(append(GROUP, first, 10, 1)));
      }
    }
    Path file = segmentFile(1);
    int lastInFirst = recordOffsets(file).getLast();
    byte[] flipped = read(file, lastInFirst + 20, 1);
    flipped[0] ^= 0x01;
    overwrite(file, lastInFirst + 20, flipped);

    assertThatThrownBy(() -> SegmentedLog.open(options).close())
        .isInstanceOf(CorruptLogException.class)
        .hasMessageContaining(file.toString())
        .hasMessageContaining("offset " + lastInFirst)
        .hasMessageContaining("not the last");
  }
}
