package io.ringkv.storage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Damage RocksDB reported while replaying a write-ahead log at open, located to a file offset.
 *
 * <p>Why this exists: RocksDB's default recovery replays a damaged log only up to the damage and
 * opens anyway, so a node forgot fsynced Raft entries and votes. ringkv opens with absolute
 * consistency instead, and this class decides the one exception: a <em>torn tail</em>, the last
 * record of the newest log cut off by the end of the file, which is what a crash in the middle of a
 * write leaves and which no acknowledgement can depend on (the fsync that acknowledges a write
 * returns only after the whole record is on disk). Both RocksDB (its reason) and {@link WalScanner}
 * (the framing) must agree that the damage is a cut-off last record; anything else, including a
 * whole last record that fails its checksum, is refused: a node that will not start is repairable,
 * one that forgot a vote is not.
 *
 * @param file the damaged log file
 * @param reason RocksDB's reason, for example "checksum mismatch"
 * @param droppedBytes how many bytes RocksDB reported it could not replay from the damage on
 * @param finding the first damaged record located by {@link WalScanner}, if it found one
 * @param newestLog whether {@code file} is the newest log in the store directory
 */
record WalDamage(
    Path file,
    String reason,
    long droppedBytes,
    Optional<WalScanner.Finding> finding,
    boolean newestLog) {

  /** RocksDB's reasons for a log that ends inside a record (log_reader.cc). */
  private static final Set<String> CUT_OFF_REASONS =
      Set.of("truncated record body", "truncated header", "error reading trailing data");

  /** RocksDB's report of WAL damage at recovery: "FILE: dropping N bytes; Corruption: REASON". */
  private static final Pattern REPORT =
      Pattern.compile("(\\S+\\.log): dropping (\\d+) bytes; Corruption: (.*)$");

  /** The first WAL damage among RocksDB's warnings, located in its file; empty if none. */
  static Optional<WalDamage> fromReports(Path storePath, List<String> warnings) {
    for (String warning : warnings) {
      Matcher match = REPORT.matcher(warning.strip());
      if (match.find()) {
        Path file = storePath.resolve(Path.of(match.group(1)).getFileName());
        return Optional.of(
            new WalDamage(
                file,
                match.group(3).strip(),
                Long.parseLong(match.group(2)),
                locate(file),
                file.equals(newestLog(storePath))));
      }
    }
    return Optional.empty();
  }

  /** True for a cut-off last record of the newest log, the only damage that is truncated. */
  boolean tornTail() {
    return newestLog
        && CUT_OFF_REASONS.contains(reason)
        && finding.isPresent()
        && finding.get().damage() == WalScanner.Damage.CUT_OFF_BY_END_OF_FILE;
  }

  /** "write-ahead log FILE at offset N (REASON; ...)": names everything an operator can act on. */
  String describe() {
    String where =
        finding
            .map(found -> "at offset " + found.offset() + " (" + found.damage() + ", ")
            .orElse("at an offset RocksDB does not report (");
    return "write-ahead log "
        + file
        + " is damaged "
        + where
        + "RocksDB: "
        + reason
        + ", "
        + droppedBytes
        + " bytes unreadable"
        + (newestLog ? "" : ", and it is not the newest log")
        + ")";
  }

  private static Optional<WalScanner.Finding> locate(Path file) {
    try {
      return WalScanner.firstDamage(file);
    } catch (IOException e) {
      return Optional.empty(); // only the offset in the message is lost; the decision fails closed
    }
  }

  private static Path newestLog(Path storePath) {
    try (Stream<Path> files = Files.list(storePath)) {
      return files
          .filter(file -> file.getFileName().toString().endsWith(".log"))
          .max(Comparator.comparingLong(WalDamage::logNumber))
          .orElse(null);
    } catch (IOException e) {
      return null;
    }
  }

  private static long logNumber(Path file) {
    String name = file.getFileName().toString();
    try {
      return Long.parseLong(name.substring(0, name.length() - ".log".length()));
    } catch (NumberFormatException e) {
      return -1; // not one of RocksDB's logs
    }
  }
}
