package io.ringkv.storage;

import io.micrometer.core.instrument.FunctionCounter;
import io.ringkv.raft.HardState;
import io.ringkv.storage.raftlog.SegmentedLog;
import io.ringkv.storage.raftlog.SegmentedLogOptions;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.locks.ReentrantLock;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.FlushOptions;
import org.rocksdb.Range;
import org.rocksdb.RocksDBException;
import org.rocksdb.SizeApproximationFlag;
import org.rocksdb.Slice;
import org.rocksdb.WriteBatch;

/**
 * A node's storage: one RocksDB instance with the column families {@code raft_log}, {@code
 * raft_state}, {@code data}, {@code changes} and {@code meta}, shared by every Raft group on the
 * node, and with {@link RaftLogEngine#SEGMENTED} one segmented Raft log that holds the groups'
 * entries and hard states instead of {@code raft_log} and {@code raft_state}.
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

  /** The node's segmented Raft log, or null with the RocksDB engine. */
  private final SegmentedLog segmented;

  private StorageEngine(Store store, SegmentedLog segmented) {
    this.store = store;
    this.segmented = segmented;
    this.committer = new GroupCommitter(store, this::raftLog, segmented, commitLock);
    if (segmented != null) {
      finishDestroys();
    }
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
    Store store = StoreOpener.open(options);
    SegmentedLog segmented = null;
    try {
      if (store.raftLogEngine == RaftLogEngine.SEGMENTED) {
        segmented = SegmentedLog.open(segmentedLogOptions(options));
      }
      return new StorageEngine(store, segmented);
    } catch (RuntimeException e) {
      if (segmented != null) {
        segmented.close();
      }
      store.close();
      throw e;
    }
  }

  private static SegmentedLogOptions segmentedLogOptions(StorageOptions options) {
    SegmentedLogOptions log = SegmentedLogOptions.defaults(options.raftLogPath());
    return options.debugUnsyncedWrites()
        ? log.withDebugUnsyncedWrites(options.clock()::millis)
        : log;
  }

  /** The format version this build writes. */
  public static int formatVersion() {
    return StoreOpener.FORMAT_VERSION;
  }

  /** The settings this engine was opened with (its limits, for callers that must stay within). */
  public StorageOptions options() {
    return store.options;
  }

  /** Where this store keeps Raft log entries and hard states (fixed when it was created). */
  public RaftLogEngine raftLogEngine() {
    return store.raftLogEngine;
  }

  public Path path() {
    return store.path;
  }

  public RaftLogStore raftLog(long groupId) {
    Keys.checkGroup(groupId);
    return logs.computeIfAbsent(
        groupId,
        id ->
            new RaftLogStore(
                store,
                id,
                commitLock,
                segmented == null
                    ? new RocksEntryStorage(store, id)
                    : new SegmentedEntryStorage(segmented, id)));
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
    return groupsWithStateRecord(Set.of(Keys.TAG_INSTALLING));
  }

  /** Groups that have a {@code raft_state} record with one of {@code tags}, in order. */
  private SortedSet<Long> groupsWithStateRecord(Set<Byte> tags) {
    SortedSet<Long> groups = new TreeSet<>();
    store.scan(
        store.raftState,
        null,
        new byte[0],
        null,
        (key, value) -> {
          if (key.length == 9 && tags.contains(key[8])) {
            groups.add(ByteBuffer.wrap(key).getLong());
          }
          return true;
        });
    return groups;
  }

  /**
   * Groups that have a replica in this store: a Raft hard state or configuration, or the durable
   * mark {@link #markReplicaCreated} leaves on a replica created empty at run time. A node opens
   * exactly these at restart, so replicas created and destroyed while it ran stay so.
   */
  public SortedSet<Long> persistedGroups() {
    SortedSet<Long> groups =
        groupsWithStateRecord(
            Set.of(Keys.TAG_HARD_STATE, Keys.TAG_CONF_STATE, Keys.TAG_REPLICA_CREATED));
    if (segmented != null) {
      for (long groupId : segmented.groupIds()) {
        if (!segmented.hardState(groupId).equals(HardState.EMPTY)) {
          groups.add(groupId); // its hard state lives in the log, not in raft_state
        }
      }
    }
    return groups;
  }

  /**
   * Durably records that this node holds a (still empty) replica of {@code groupId}, so that a
   * restart reopens it before its first Raft message arrives.
   */
  public void markReplicaCreated(long groupId) {
    Keys.checkGroup(groupId);
    byte[] key = Keys.state(groupId, Keys.TAG_REPLICA_CREATED);
    try (WriteBatch batch = new WriteBatch()) {
      batch.put(store.raftState, key, Codec.seal(key, ByteBuffer.allocate(0)));
      store.write(batch, true);
    } catch (RocksDBException e) {
      throw store.failure("mark replica of group " + groupId + " created", e);
    }
  }

  /**
   * Deletes everything of {@code groupId}: Raft log, hard state, configuration, snapshot and
   * install records, applied state, data, client sessions and changefeed, in ONE synced batch of
   * range deletes, so a crash leaves either the whole replica or none of it. The caller guarantees
   * that nothing writes to the group meanwhile or later (its replica is closed); the cached
   * per-group objects are dropped.
   *
   * <p>With the segmented log, that batch also leaves a destroy mark; the log's destroy record
   * follows (durably), then the mark goes. A crash in between leaves the mark, and the next open
   * writes the destroy record again ({@link #finishDestroys}), so the log never brings back entries
   * or a vote of a destroyed replica, nor shows them to one created with the same id.
   */
  public void destroyGroup(long groupId) {
    Keys.checkGroup(groupId);
    byte[] from = Keys.group(groupId);
    byte[] end = Keys.groupEnd(groupId);
    byte[] mark = Keys.state(groupId, Keys.TAG_DESTROYING);
    try (WriteBatch batch = new WriteBatch()) {
      for (ColumnFamilyHandle family :
          List.of(store.raftLog, store.raftState, store.data, store.changes)) {
        batch.deleteRange(family, from, end);
      }
      if (segmented != null) {
        batch.put(store.raftState, mark, Codec.seal(mark, ByteBuffer.allocate(0)));
      }
      store.write(batch, true);
    } catch (RocksDBException e) {
      throw store.failure("destroy group " + groupId, e);
    }
    if (segmented != null) {
      destroyInLog(groupId);
    }
    logs.remove(groupId);
    partitions.remove(groupId);
    changefeeds.remove(groupId);
  }

  /** Writes the log's destroy record of {@code groupId} durably, then drops the destroy mark. */
  private void destroyInLog(long groupId) {
    // Through the log's queue: behind any compaction mark of the group queued before.
    segmented.destroy(groupId).join();
    byte[] mark = Keys.state(groupId, Keys.TAG_DESTROYING);
    try (WriteBatch batch = new WriteBatch()) {
      batch.delete(store.raftState, mark);
      store.write(batch, false); // lost in a crash: the destroy record is only written again
    } catch (RocksDBException e) {
      throw store.failure("finish destroy of group " + groupId, e);
    }
  }

  /** Finishes the destroys a crash interrupted between RocksDB and the segmented log. */
  private void finishDestroys() {
    for (long groupId : groupsWithStateRecord(Set.of(Keys.TAG_DESTROYING))) {
      destroyInLog(groupId);
    }
  }

  /** Approximate bytes of {@code groupId}'s data (files and memtables); for planning moves. */
  public long approximateDataBytes(long groupId) {
    Keys.checkGroup(groupId);
    try (Slice from = new Slice(Keys.group(groupId));
        Slice end = new Slice(Keys.groupEnd(groupId))) {
      long[] sizes =
          store.db.getApproximateSizes(
              store.data,
              List.of(new Range(from, end)),
              SizeApproximationFlag.INCLUDE_FILES,
              SizeApproximationFlag.INCLUDE_MEMTABLES);
      return sizes.length == 0 ? 0 : sizes[0];
    }
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
   * Flushes every memtable and compacts every column family over its whole key range, so deleted
   * and overwritten data (and the WAL it sat in) leave the disk now rather than whenever RocksDB's
   * own compactions reach them. Heavy: the disk quota calls it only while the node is over quota
   * and clients deleted something since the last call.
   */
  public void compactAll() {
    flushAll();
    try {
      for (ColumnFamilyHandle family :
          List.of(store.raftLog, store.raftState, store.data, store.changes, store.meta)) {
        store.db.compactRange(family);
      }
    } catch (RocksDBException e) {
      throw store.failure("compact", e);
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
      try {
        if (segmented != null) {
          segmented.close();
        }
      } finally {
        store.close();
      }
    }
  }
}
