package io.ringkv.storage;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.Statistics;
import org.rocksdb.Status;
import org.rocksdb.TickerType;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * The open RocksDB instance and its column family handles, shared by every component of one engine.
 * Owns the native handles; {@link #close()} releases them in reverse order of creation.
 */
final class Store implements AutoCloseable {
  static final String CF_RAFT_LOG = "raft_log";
  static final String CF_RAFT_STATE = "raft_state";
  static final String CF_DATA = "data";
  static final String CF_CHANGES = "changes";
  static final String CF_META = "meta";
  static final List<String> COLUMN_FAMILIES =
      List.of(CF_RAFT_LOG, CF_RAFT_STATE, CF_DATA, CF_CHANGES, CF_META);

  final Path path;
  final StorageOptions options;
  final RocksDB db;
  final ColumnFamilyHandle raftLog;
  final ColumnFamilyHandle raftState;
  final ColumnFamilyHandle data;
  final ColumnFamilyHandle changes;
  final ColumnFamilyHandle meta;
  private final List<ColumnFamilyHandle> handles;
  private final List<AutoCloseable> resources;
  private final Statistics statistics;
  private long walSyncsAtClose;

  /** How stale the durable state may be under the planted bug: the writes a crash can lose. */
  static final long DEBUG_UNSYNCED_WRITE_OUT_INTERVAL_MILLIS = 1000;

  private long debugWalWrittenOutMillis;

  /**
   * Where this store keeps Raft log entries and hard states: recorded at creation, set by {@link
   * StoreOpener} before anyone else sees the store.
   */
  RaftLogEngine raftLogEngine;

  private boolean closed;
  private final WriteOptions syncWrite = new WriteOptions().setSync(true);
  private final WriteOptions bufferedWrite = new WriteOptions().setSync(false);

  /**
   * {@code handles} in {@link #COLUMN_FAMILIES} order followed by the default family; {@code
   * statistics} is null for the read-only inspection at open.
   */
  Store(
      StorageOptions options,
      RocksDB db,
      List<ColumnFamilyHandle> handles,
      List<AutoCloseable> resources,
      Statistics statistics) {
    this.statistics = statistics;
    this.path = options.path();
    this.options = options;
    this.db = db;
    this.handles = handles;
    this.resources = resources;
    this.raftLog = handles.get(0);
    this.raftState = handles.get(1);
    this.data = handles.get(2);
    this.changes = handles.get(3);
    this.meta = handles.get(4);
  }

  byte[] get(ColumnFamilyHandle family, byte[] key) {
    try {
      return db.get(family, key);
    } catch (RocksDBException e) {
      throw failure("read", e);
    }
  }

  /** Receives the records of a {@link #scan}; returns false to stop early. */
  interface RecordVisitor {
    boolean visit(byte[] key, byte[] value) throws RocksDBException;
  }

  /**
   * Visits the records of {@code family} in {@code [from, end)} in key order, from the snapshot of
   * {@code readOptions} (null for the latest state). An iterator that stops because of an error
   * (for example a damaged block) throws instead of looking like the end of the range.
   */
  void scan(
      ColumnFamilyHandle family,
      ReadOptions readOptions,
      byte[] from,
      byte[] end,
      RecordVisitor visitor) {
    try (RocksIterator iterator =
        readOptions == null ? db.newIterator(family) : db.newIterator(family, readOptions)) {
      for (iterator.seek(from); iterator.isValid(); iterator.next()) {
        byte[] key = iterator.key();
        if (end != null && Arrays.compareUnsigned(key, end) >= 0) {
          return;
        }
        if (!visitor.visit(key, iterator.value())) {
          return;
        }
      }
      iterator.status();
    } catch (RocksDBException e) {
      throw failure("scan", e);
    }
  }

  /** Writes {@code batch} atomically; with {@code sync} it is on disk (fsync) before returning. */
  void write(WriteBatch batch, boolean sync) {
    try {
      db.write(sync && !options.debugUnsyncedWrites() ? syncWrite : bufferedWrite, batch);
    } catch (RocksDBException e) {
      throw failure("write", e);
    }
  }

  /**
   * Makes every WAL write made so far durable (fsync of the WAL), without holding up writers on
   * other threads: unsynced writes issued meanwhile (the apply path) do not wait for this fsync, as
   * they would if they joined the write group of a {@code sync = true} write.
   */
  void syncWal() {
    if (options.debugUnsyncedWrites()) {
      debugWriteOutOldWal();
      return;
    }
    try {
      db.syncWal();
    } catch (RocksDBException e) {
      throw failure("sync WAL", e);
    }
  }

  /**
   * The planted durability bug ({@link StorageOptions#debugUnsyncedWrites}): instead of an fsync,
   * hands RocksDB's buffered WAL to the operating system (without fsync) at most once per {@link
   * #DEBUG_UNSYNCED_WRITE_OUT_INTERVAL_MILLIS}, so a SIGKILL loses at most that much of the latest
   * acknowledged writes, but never the node's older state (a node that lost everything would not
   * serve again, and a run would show unavailability instead of lost writes).
   */
  private synchronized void debugWriteOutOldWal() {
    long now = options.clock().millis();
    if (now - debugWalWrittenOutMillis < DEBUG_UNSYNCED_WRITE_OUT_INTERVAL_MILLIS) {
      return;
    }
    debugWalWrittenOutMillis = now;
    try {
      db.flushWal(false);
    } catch (RocksDBException e) {
      throw failure("flush WAL", e);
    }
  }

  /** Counts a limit hit (metric {@code ringkv.storage.limit.rejected}, tag {@code limit}). */
  LimitExceededException limitExceeded(String limitName, long value, long limit) {
    options
        .meterRegistry()
        .counter("ringkv.storage.limit.rejected", "limit", limitName)
        .increment();
    return new LimitExceededException(limitName, value, limit);
  }

  /**
   * A RocksDB error as a storage exception; damage RocksDB detected is {@link
   * CorruptDataException}.
   */
  StorageException failure(String operation, RocksDBException e) {
    String message = "RocksDB " + operation + " failed at " + path + ": " + e.getMessage();
    Status status = e.getStatus();
    if (status != null && status.getCode() == Status.Code.Corruption) {
      return new CorruptDataException(message, e);
    }
    return new StorageException(message, e);
  }

  /**
   * How many times RocksDB synced a WAL file: the fsyncs RocksDB really did, as opposed to the
   * writes that asked for one. Safe to call after close (returns the last count).
   */
  synchronized long walSyncCount() {
    if (closed || statistics == null) {
      return walSyncsAtClose;
    }
    return statistics.getTickerCount(TickerType.WAL_FILE_SYNCED);
  }

  /** A RocksDB statistics ticker since open (tests count point reads and seeks with it). */
  synchronized long tickerCount(TickerType ticker) {
    return closed || statistics == null ? 0 : statistics.getTickerCount(ticker);
  }

  @Override
  public void close() {
    synchronized (this) {
      walSyncsAtClose = walSyncCount();
      closed = true;
    }
    syncWrite.close();
    bufferedWrite.close();
    for (ColumnFamilyHandle handle : handles) {
      handle.close();
    }
    db.close();
    for (AutoCloseable resource : resources.reversed()) {
      try {
        resource.close();
      } catch (Exception e) {
        throw new StorageException("closing " + resource + " failed", e);
      }
    }
  }
}
