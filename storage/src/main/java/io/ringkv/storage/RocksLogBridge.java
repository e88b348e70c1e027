package io.ringkv.storage;

import org.rocksdb.InfoLogLevel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends RocksDB's info log to SLF4J. Used for the read-only inspection at open, which must not
 * create or rotate a LOG file in a directory it may refuse to touch.
 */
final class RocksLogBridge extends org.rocksdb.Logger {
  private static final Logger LOG = LoggerFactory.getLogger(RocksLogBridge.class);

  RocksLogBridge() {
    super(InfoLogLevel.WARN_LEVEL);
  }

  @Override
  protected void log(InfoLogLevel level, String message) {
    if (level == InfoLogLevel.WARN_LEVEL) {
      LOG.warn("rocksdb: {}", message);
    } else {
      LOG.error("rocksdb: {}", message);
    }
  }
}
