package io.ringkv.storage;

import io.micrometer.core.instrument.FunctionCounter;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.locks.ReentrantLock;
import org.rocksdb.FlushOptions;
import org.rocksdb.RocksDBException;

/**
 * A node's storage: one RocksDB instance with the column families {@code raft_log}, {@code
 * raft_state}, {@code data}, {@code changes} and {@code meta}, shared by every Raft group on the
 * node.
 *
 * <p>{@link #open} never resets or deletes anything: a damaged, foreign or newer store fails with a
 * specific {@link StorageException} naming the path. Per-group objects ({@link RaftLogStore},
 * {@link PartitionStore}, {@link ChangefeedLog}) are created on first use and cached; they stay
 * valid until {@link #close()}.
 */
public final class StorageEngine implements AutoCloseable {
  private final Store store;
  private final ReentrantLock commitLock = new ReentrantLock();
  private final ConcurrentMap<Long, RaftLogStore> logs = new ConcurrentHashMap<>();
  private final ConcurrentMap<Long, PartitionStore> partitions = new ConcurrentHashMap<>();
  private final ConcurrentMap<Long, ChangefeedLog> changefeeds = new ConcurrentHashMap<>();
  private final GroupCommitter committer;

  private StorageEngine(Store store) {
    this.store = store;
    this.committer = new GroupCommitter(store, this::raftLog, commitLock);
    FunctionCounter.builder("ringkv.storage.rocksdb.wal.syncs", store, Store::walSyncCount)
        .description("WAL file syncs RocksDB performed")
        .register(store.options.meterRegistry());
    // Finish every snapshot install a crash interrupted before anyone reads or applies.
    for (long groupId : partitionsNeedingSnapshot()) {
      partition(groupId);
    }
  }

  /**
   * Opens the store at {@code options.path()}, creating it only if the directory is missing or
   * empty.
   *
   * @throws CorruptStoreException the directory holds a damaged or incomplete store
   * @throws ForeignStoreException the store belongs to another cluster or node
   * @throws IncompatibleFormatException the store's format is newer than this build
   */
  public static StorageEngine open(StorageOptions options) {
    return new StorageEngine(StoreOpener.open(options));
  }

  /** The format version this build writes. */
  public static int formatVersion() {
    return StoreOpener.FORMAT_VERSION;
  }

  /** The settings this engine was opened with (its limits, for callers that must stay within). */
  public StorageOptions options() {
    return store.options;
  }

  public Path path() {
    return store.path;
  }

  public RaftLogStore raftLog(long groupId) {
    Keys.checkGroup(groupId);
    return logs.computeIfAbsent(groupId, id -> new RaftLogStore(store, id, commitLock));
  }

  public PartitionStore partition(long groupId) {
    Keys.checkGroup(groupId);
    return partitions.computeIfAbsent(groupId, id -> new PartitionStore(store, id, changefeed(id)));
  }

  public ChangefeedLog changefeed(long groupId) {
    Keys.checkGroup(groupId);
    return changefeeds.computeIfAbsent(groupId, id -> new ChangefeedLog(store, id));
  }

  public GroupCommitter groupCommitter() {
    return committer;
  }

  /**
   * Groups whose snapshot install was interrupted and could not be finished at open (see {@link
   * PartitionStore#needsSnapshotReason()}): they need a new snapshot.
   */
  public Set<Long> partitionsNeedingSnapshot() {
    Set<Long> groups = new TreeSet<>();
    store.scan(
        store.raftState,
        null,
        new byte[0],
        null,
        (key, value) -> {
          if (key.length == 9 && key[8] == Keys.TAG_INSTALLING) {
            groups.add(ByteBuffer.wrap(key).getLong());
          }
          return true;
        });
    return groups;
  }

  /** Writes every memtable to SST files (tests use it to get data into SSTs). */
  void flushAll() {
    try (FlushOptions flush = new FlushOptions().setWaitForFlush(true)) {
      store.db.flush(
          flush, List.of(store.raftLog, store.raftState, store.data, store.changes, store.meta));
    } catch (RocksDBException e) {
      throw store.failure("flush", e);
    }
  }

  /**
   * WAL syncs RocksDB really performed since open (also the metric
   * ringkv.storage.rocksdb.wal.syncs).
   */
  long walSyncCount() {
    return store.walSyncCount();
  }

  Store store() {
    return store;
  }

  /** Commits what is queued, then releases every RocksDB handle. */
  @Override
  public void close() {
    try {
      committer.close();
    } finally {
      store.close();
    }
  }
}
