package io.ringkv.storage;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.rocksdb.InfoLogLevel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends RocksDB's info log to SLF4J and keeps its warnings for the caller. Used for the read-only
 * inspection at open, which must not create or rotate a LOG file in a directory it may refuse to
 * touch, and which reads RocksDB's report of write-ahead log damage (file and dropped bytes, not in
 * the returned status) from these warnings.
 */
final class RocksLogBridge extends org.rocksdb.Logger {
  private static final Logger LOG = LoggerFactory.getLogger(RocksLogBridge.class);

  /** Warnings kept per inspection: the first WAL report is all that is read. */
  static final int WARNINGS_KEPT_MAX = 64;

  private final List<String> warnings = new CopyOnWriteArrayList<>();

  RocksLogBridge() {
    super(InfoLogLevel.WARN_LEVEL);
  }

  @Override
  protected void log(InfoLogLevel level, String message) {
    if (warnings.size() < WARNINGS_KEPT_MAX) {
      warnings.add(message);
    }
    if (level == InfoLogLevel.WARN_LEVEL) {
      LOG.warn("rocksdb: {}", message);
    } else {
      LOG.error("rocksdb: {}", message);
    }
  }

  /** Warnings and errors RocksDB logged so far, oldest first. */
  List<String> warnings() {
    return List.copyOf(warnings);
  }
}
