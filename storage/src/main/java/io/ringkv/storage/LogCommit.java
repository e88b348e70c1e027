package io.ringkv.storage;

import io.ringkv.storage.raftlog.LogRecord;
import java.util.ArrayList;
import java.util.List;
import org.rocksdb.WriteBatch;

/**
 * What one group commit writes: RocksDB operations (configurations, snapshot records, and with the
 * RocksDB engine the entries and hard states too) and segmented-log records. The RocksDB part is
 * made durable first: it names a snapshot whose log reset may follow, and a crash in between is
 * repaired at open from the snapshot record (see {@link SegmentedEntryStorage}).
 */
final class LogCommit implements AutoCloseable {
  final WriteBatch rocks = new WriteBatch();
  final List<LogRecord> records = new ArrayList<>();

  boolean isEmpty() {
    return rocks.count() == 0 && records.isEmpty();
  }

  @Override
  public void close() {
    rocks.close();
  }
}
