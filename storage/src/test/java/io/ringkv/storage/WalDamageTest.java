package io.ringkv.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.ringkv.raft.HardState;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * Proves that a damaged write-ahead log never silently loses durable Raft state: on a real store of
 * stopped writers whose fsynced Raft entries live only in the WAL, 4 KiB of garbage (random or
 * zeros) in the middle of the log, or one flipped byte in its whole last record, refuses the open
 * with a {@link CorruptStoreException} naming the log file and the offset of the first damaged
 * record, and leaves every file byte-identical, as does a cut-off end of a log that is not the
 * newest (whole when the next log began); a torn tail (the last record cut off by the end of the
 * file, as a crash during the write leaves it) opens, keeps every whole record, drops only that
 * write and logs it. Before ringkv chose the recovery mode, RocksDB's default (point in time)
 * opened the mid-file cases with a third of the entries gone.
 */
class WalDamageTest {
  private static final long GROUPS = 3;
  private static final long ENTRIES_PER_GROUP = 2_000;
  private static final long ENTRIES_PER_WRITE = 100;
  private static final int GARBAGE_BYTES = 4096;

  @TempDir Path directory;

  /** Every group's entries, fsynced by the group committer, never flushed: all in the WAL. */
  private Path createStoreOfFsyncedEntries() throws Exception {
    try (StorageEngine engine = TestStores.open(directory)) {
      for (long group = 1; group <= GROUPS; group++) {
        for (long first = 1; first <= ENTRIES_PER_GROUP; first += ENTRIES_PER_WRITE) {
          long last = first + ENTRIES_PER_WRITE - 1;
          engine
              .groupCommitter()
              .submit(LogWrite.of(group, TestStores.entries(first, last, 1), hardState(last)))
              .join();
        }
      }
    }
    try (Stream<Path> files = Files.list(directory)) {
      List<Path> logs = files.filter(file -> file.toString().endsWith(".log")).toList();
      assertThat(logs).as("one WAL holds every entry").hasSize(1);
      return logs.getFirst();
    }
  }

  private static HardState hardState(long commit) {
    return new HardState(1, 0, commit);
  }

  @Test
  void garbageInTheMiddleOfTheLogRefusesTheOpenNamingFileAndOffset() throws Exception {
    Path wal = createStoreOfFsyncedEntries();
    long garbageAt = Files.size(wal) / 2;
    byte[] garbage = new byte[GARBAGE_BYTES];
    new Random(11).nextBytes(garbage);
    write(wal, garbageAt, garbage);
    assertRefusedAt(wal, garbageAt);
  }

  @Test
  void zerosInTheMiddleOfTheLogRefuseTheOpen() throws Exception {
    Path wal = createStoreOfFsyncedEntries();
    long zerosAt = Files.size(wal) / 2;
    write(wal, zerosAt, new byte[GARBAGE_BYTES]);
    assertRefusedAt(wal, zerosAt);
  }

  @Test
  void aWholeLastRecordFailingItsChecksumIsRefusedNotDropped() throws Exception {
    Path wal = createStoreOfFsyncedEntries();
    long flipAt = Files.size(wal) - 50;
    try (RandomAccessFile raw = new RandomAccessFile(wal.toFile(), "rw")) {
      raw.seek(flipAt);
      int value = raw.read();
      raw.seek(flipAt);
      raw.write(value ^ 0x5a);
    }
    Map<String, String> before = TestStores.digest(directory);
    assertThatThrownBy(() -> TestStores.open(directory).close())
        .isInstanceOf(CorruptStoreException.class)
        .hasMessageContaining(wal.toString())
        .hasMessageContaining("CHECKSUM_MISMATCH")
        .hasMessageContaining("checksum mismatch");
    assertThat(TestStores.digest(directory)).isEqualTo(before);
  }

  @Test
  void tornTailIsDroppedAndLoggedKeepingEveryWholeRecord() throws Exception {
    Path wal = createStoreOfFsyncedEntries();
    try (RandomAccessFile raw = new RandomAccessFile(wal.toFile(), "rw")) {
      raw.setLength(raw.length() - 100); // inside the last write: group 3's last 100 entries
    }
    Logger opener = (Logger) LoggerFactory.getLogger(StoreOpener.class);
    ListAppender<ILoggingEvent> logged = new ListAppender<>();
    logged.start();
    opener.addAppender(logged);
    try (StorageEngine engine = TestStores.open(directory)) {
      for (long group = 1; group < GROUPS; group++) {
        assertThat(engine.raftLog(group).lastIndex()).isEqualTo(ENTRIES_PER_GROUP);
      }
      RaftLogStore torn = engine.raftLog(GROUPS);
      assertThat(torn.lastIndex()).isEqualTo(ENTRIES_PER_GROUP - ENTRIES_PER_WRITE);
      assertThat(torn.initialState().hardState().commit())
          .isEqualTo(ENTRIES_PER_GROUP - ENTRIES_PER_WRITE);
      assertThat(torn.entries(1, torn.lastIndex() + 1, Long.MAX_VALUE))
          .hasSize((int) (ENTRIES_PER_GROUP - ENTRIES_PER_WRITE));
    } finally {
      opener.detachAppender(logged);
    }
    assertThat(logged.list)
        .singleElement()
        .satisfies(event -> {
          assertThat(event.getLevel().toString()).isEqualTo("WARN");
          assertThat(event.getFormattedMessage())
              .contains(wal.toString(), "CUT_OFF_BY_END_OF_FILE", "truncated", "dropped");
        });
    try (StorageEngine engine = TestStores.open(directory)) {
      assertThat(engine.raftLog(GROUPS).lastIndex())
          .as("the next open finds a clean store")
          .isEqualTo(ENTRIES_PER_GROUP - ENTRIES_PER_WRITE);
    }
  }

  @Test
  void aCutOffOlderLogIsRefusedNotTreatedAsATornTail() throws Exception {
    try (StorageEngine engine = TestStores.open(directory)) {
      engine.groupCommitter().submit(LogWrite.of(1, TestStores.entries(1, 100, 1), null)).join();
      Store store = engine.store();
      try (org.rocksdb.FlushOptions flush = new org.rocksdb.FlushOptions().setWaitForFlush(true)) {
        // Flushing another family switches to a new log; the old one stays for raft_log's data.
        store.db.flush(flush, store.meta);
      }
      engine.groupCommitter().submit(LogWrite.of(1, TestStores.entries(101, 200, 1), null)).join();
    }
    List<Path> logs;
    try (Stream<Path> files = Files.list(directory)) {
      logs = files.filter(file -> file.toString().endsWith(".log")).sorted().toList();
    }
    assertThat(logs).as("an older and a newer log").hasSize(2);
    Path older = logs.getFirst();
    try (RandomAccessFile raw = new RandomAccessFile(older.toFile(), "rw")) {
      raw.setLength(raw.length() - 100);
    }
    assertThatThrownBy(() -> TestStores.open(directory).close())
        .isInstanceOf(CorruptStoreException.class)
        .hasMessageContaining(older.toString())
        .hasMessageContaining("it is not the newest log");
  }

  @Test
  void scannerFindsNothingInAnUndamagedLog() throws Exception {
    Path wal = createStoreOfFsyncedEntries();
    assertThat(WalScanner.firstDamage(wal)).isEmpty();
  }

  /** Refused, naming the file and the record that holds {@code damageAt}; nothing touched. */
  private void assertRefusedAt(Path wal, long damageAt) throws Exception {
    Map<String, String> before = TestStores.digest(directory);
    assertThatThrownBy(() -> TestStores.open(directory).close())
        .isInstanceOfSatisfying(
            CorruptStoreException.class,
            e -> {
              assertThat(e.getMessage())
                  .contains(wal.toString(), "would silently lose durable Raft state");
              long offset = offsetIn(e.getMessage());
              assertThat(offset)
                  .as("the first damaged record starts at or before the damage, in its block")
                  .isBetween(damageAt - WalScanner.BLOCK_SIZE_BYTES, damageAt);
            });
    assertThat(TestStores.digest(directory)).isEqualTo(before);
  }

  private static long offsetIn(String message) {
    java.util.regex.Matcher match =
        java.util.regex.Pattern.compile("at offset (\\d+)").matcher(message);
    assertThat(match.find()).as("offset named in: %s", message).isTrue();
    return Long.parseLong(match.group(1));
  }

  private static void write(Path file, long position, byte[] bytes) throws Exception {
    try (RandomAccessFile raw = new RandomAccessFile(file.toFile(), "rw")) {
      raw.seek(position);
      raw.write(bytes);
    }
  }
}
