package io.ringkv.storage;

import io.micrometer.core.instrument.Counter;
import io.ringkv.raft.ConfState;
import io.ringkv.raft.Entry;
import io.ringkv.raft.HardState;
import io.ringkv.raft.Invariants;
import io.ringkv.raft.LogCompactedException;
import io.ringkv.raft.LogUnavailableException;
import io.ringkv.raft.RaftLogReader;
import io.ringkv.raft.Snapshot;
import io.ringkv.raft.SnapshotMetadata;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.Lock;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;

/**
 * One group's Raft log, hard state and membership configuration.
 *
 * <p>Entries, compaction point and hard state live where the node's {@link RaftLogEngine} keeps
 * them ({@link EntryStorage}); the membership configuration and the snapshot record always live in
 * RocksDB's {@code raft_state}.
 *
 * <p>Writes go through the {@link GroupCommitter} (so many groups share one fsync); this class
 * plans each write against the log bounds, adds its operations to the shared batch, and publishes
 * the new bounds only after the batch is durable, so readers never see entries that could still be
 * lost. Bounds, hard state and configuration are cached. A hard state whose only change is the
 * commit index may come in a batch written without an fsync ({@code Ready#mustSync}): it is
 * published once written, durable only with the next fsync.
 *
 * <p>The tail of the log is also kept in memory ({@link RaftLogCache}, bounded by {@code
 * logCacheEntriesMax} and {@code logCacheSizeBytesMax}): it is filled where the bounds are
 * published, so it only ever holds durable entries, and {@link #term} and {@link #entries} answer
 * from it without the disk. Older entries are read from the disk, their checksums verified on every
 * read. Cache, bounds and snapshot record are guarded by this object's monitor.
 */
public final class RaftLogStore implements RaftLogReader {
  private final Store store;
  private final long groupId;
  private final Lock commitLock;
  private LogState state;
  private HardState hardState;
  private ConfState confState;
  private SnapshotMetadata snapshot;
  private final RaftLogCache cache;
  private final EntryStorage disk;
  private final Counter cacheHits;
  private final Counter cacheMisses;

  RaftLogStore(Store store, long groupId, Lock commitLock, EntryStorage disk) {
    this.store = store;
    this.groupId = groupId;
    this.commitLock = commitLock;
    this.disk = disk;
    // Starts empty after a reopen: the first appends fill it, and reads fall back to the disk.
    this.cache =
        new RaftLogCache(store.options.logCacheEntriesMax(), store.options.logCacheSizeBytesMax());
    this.cacheHits =
        Counter.builder("ringkv.storage.log.cache.reads")
            .tag("result", "hit")
            .description("Raft log reads (term or entries) answered from the in-memory tail")
            .register(store.options.meterRegistry());
    this.cacheMisses =
        Counter.builder("ringkv.storage.log.cache.reads")
            .tag("result", "miss")
            .description("Raft log reads (term or entries) that needed the disk")
            .register(store.options.meterRegistry());
    this.confState =
        RaftStateRecords.read(store, groupId, Keys.TAG_CONF_STATE, Codec::getConfState);
    this.snapshot =
        RaftStateRecords.read(store, groupId, Keys.TAG_SNAPSHOT, RaftStateRecords::snapshot);
    this.state = disk.loadBounds(snapshot);
    this.hardState = disk.loadHardState();
  }

  public long groupId() {
    return groupId;
  }

  @Override
  public synchronized InitialState initialState() {
    return new InitialState(
        hardState == null ? HardState.EMPTY : hardState,
        confState == null ? ConfState.EMPTY : confState);
  }

  @Override
  public synchronized long firstIndex() {
    return state.firstIndex();
  }

  @Override
  public synchronized long lastIndex() {
    return state.lastIndex();
  }

  @Override
  public synchronized Snapshot snapshot() {
    return snapshot == null ? Snapshot.EMPTY : new Snapshot(snapshot, new byte[0]);
  }

  synchronized LogState state() {
    return state;
  }

  @Override
  public long term(long index) {
    LogState bounds;
    synchronized (this) {
      if (cache.contains(index)) {
        cacheHits.increment();
        return cache.get(index).term();
      }
      bounds = state;
    }
    if (index < bounds.truncatedIndex()) {
      throw new LogCompactedException(index, bounds.firstIndex());
    }
    if (index > bounds.lastIndex()) {
      throw new LogUnavailableException(index, bounds.lastIndex());
    }
    if (index == bounds.truncatedIndex()) {
      return bounds.truncatedTerm();
    }
    cacheMisses.increment();
    long term = disk.term(index);
    if (term < 0) {
      throw missing(index);
    }
    return term;
  }

  @Override
  public List<Entry> entries(long lowIndex, long highIndex, long maxSizeBytes) {
    Invariants.check(lowIndex <= highIndex, "entries: low %d > high %d", lowIndex, highIndex);
    LogState bounds = state();
    if (lowIndex < bounds.firstIndex()) {
      throw new LogCompactedException(lowIndex, bounds.firstIndex());
    }
    if (highIndex > bounds.lastIndex() + 1) {
      throw new LogUnavailableException(highIndex - 1, bounds.lastIndex());
    }
    Batch batch = new Batch(maxSizeBytes);
    long next = fromCache(batch, lowIndex, highIndex);
    if (next == highIndex || batch.full) {
      cacheHits.increment();
      return batch.entries;
    }
    cacheMisses.increment();
    // The older part from the disk, up to where the cache begins; then the cache again, and the
    // disk once more should the cache have moved on (eviction, compaction) in between.
    long cachedFirst = cachedFirstIndex();
    next =
        fromDisk(
            batch, next, cachedFirst > next && cachedFirst < highIndex ? cachedFirst : highIndex);
    next = fromCache(batch, next, highIndex);
    next = fromDisk(batch, next, highIndex);
    return batch.entries;
  }

  /** Entries gathered for one {@link #entries} call, bounded by bytes but at least one. */
  private static final class Batch {
    final List<Entry> entries = new ArrayList<>();
    final long sizeBytesMax;
    long sizeBytes;
    boolean full;

    Batch(long sizeBytesMax) {
      this.sizeBytesMax = sizeBytesMax;
    }

    /** Adds {@code entry} unless it would pass the byte bound; returns false once full. */
    boolean offer(Entry entry) {
      sizeBytes += entry.sizeBytes();
      full = !entries.isEmpty() && sizeBytes > sizeBytesMax;
      if (!full) {
        entries.add(entry);
      }
      return !full;
    }
  }

  private synchronized long cachedFirstIndex() {
    return cache.isEmpty() ? Long.MAX_VALUE : cache.firstIndex();
  }

  /** Takes cached entries from {@code next} on; returns the index after the last one taken. */
  private synchronized long fromCache(Batch batch, long next, long highIndex) {
    while (!batch.full
        && next < highIndex
        && cache.contains(next)
        && batch.offer(cache.get(next))) {
      next++;
    }
    return next;
  }

  /** Reads {@code [next, end)} from the disk; returns the index after the last one taken. */
  private long fromDisk(Batch batch, long next, long end) {
    if (batch.full || next >= end) {
      return next;
    }
    long after = disk.read(next, end, batch::offer);
    if (!batch.full && after < end) {
      throw missing(after);
    }
    return after;
  }

  /**
   * For an entry that was not found: a compaction that ran since the bounds were read is a normal
   * race and reported as such; a hole inside the bounds is corruption.
   */
  private RuntimeException missing(long index) {
    LogState bounds = state();
    if (index < bounds.firstIndex()) {
      return new LogCompactedException(index, bounds.firstIndex());
    }
    return new Invariants.InvariantViolation(
        "group " + groupId + ": entry " + index + " missing inside the log " + bounds);
  }

  /**
   * Drops entries up to and including {@code index}, remembering the term at {@code index} so
   * {@code term(firstIndex() - 1)} keeps working. Not fsynced: losing a compaction in a crash only
   * brings entries back. A no-op if already compacted that far.
   */
  public void compact(long index) {
    commitLock.lock();
    try {
      LogState bounds = state();
      if (index <= bounds.truncatedIndex()) {
        return;
      }
      if (index > bounds.lastIndex()) {
        throw new LogUnavailableException(index, bounds.lastIndex());
      }
      LogState after = new LogState(index, term(index), bounds.lastIndex());
      // Publish the new bounds before the range delete becomes visible: a reader that finds an
      // entry missing re-reads the bounds, and must then see it as compacted, never as a hole.
      synchronized (this) {
        state = after;
        cache.dropThrough(index);
      }
      disk.compact(bounds, after);
    } finally {
      commitLock.unlock();
    }
  }

  /** Records the latest snapshot taken of this group's state machine (fsynced). */
  public void saveSnapshot(SnapshotMetadata metadata) {
    try (WriteBatch batch = new WriteBatch()) {
      putSnapshot(batch, metadata);
      store.write(batch, true);
    } catch (RocksDBException e) {
      throw store.failure("save snapshot record of group " + groupId, e);
    }
    synchronized (this) {
      snapshot = metadata;
    }
  }

  /** The bounds after {@code write}, or an exception if it cannot apply to {@code before}. */
  LogState plan(LogState before, LogWrite write) {
    HardState durable;
    synchronized (this) {
      durable = hardState == null ? HardState.EMPTY : hardState;
    }
    checkHardState(durable, write.hardState());
    LogState base = before;
    if (write.snapshot() != null) {
      SnapshotMetadata incoming = write.snapshot();
      base = new LogState(incoming.index(), incoming.term(), incoming.index());
    }
    if (write.entries().isEmpty()) {
      checkCommitWithin(write.hardState(), base);
      return base;
    }
    long first = write.entries().getFirst().index();
    if (first <= base.truncatedIndex() || first > base.lastIndex() + 1) {
      throw new StorageException(
          "group "
              + groupId
              + ": append at "
              + first
              + " does not fit log "
              + base.firstIndex()
              + ".."
              + base.lastIndex());
    }
    Invariants.check(
        write.snapshot() != null || first > durable.commit(),
        "group %d: append at %d would overwrite committed entries (commit %d)",
        groupId,
        first,
        durable.commit());
    LogState after =
        new LogState(
            base.truncatedIndex(), base.truncatedTerm(), write.entries().getLast().index());
    checkCommitWithin(write.hardState(), after);
    return after;
  }

  /**
   * A hard state never commits past the end of the log written with it: after a restart the log
   * must hold every entry the commit index names.
   */
  private void checkCommitWithin(HardState next, LogState after) {
    Invariants.check(
        next == null || next.commit() <= after.lastIndex(),
        "group %d: hard state %s commits past the log's end %d",
        groupId,
        next,
        after.lastIndex());
  }

  /** Raft's hard state only moves forward: term and commit never drop, a vote is never changed. */
  private void checkHardState(HardState durable, HardState next) {
    if (next == null) {
      return;
    }
    Invariants.check(
        next.term() >= durable.term() && next.commit() >= durable.commit(),
        "group %d: hard state goes back from %s to %s",
        groupId,
        durable,
        next);
    Invariants.check(
        next.term() > durable.term() || durable.vote() == 0 || next.vote() == durable.vote(),
        "group %d: vote changed within term %d (%d to %d)",
        groupId,
        durable.term(),
        durable.vote(),
        next.vote());
  }

  /**
   * Adds the operations of {@code write} (already planned from {@code before}) to {@code commit}.
   */
  void addTo(LogCommit commit, LogWrite write, LogState before, LogState after)
      throws RocksDBException {
    if (write.snapshot() != null) {
      putSnapshot(commit.rocks, write.snapshot());
      putConfState(commit.rocks, write.snapshot().confState());
      disk.stageReset(commit, after);
    }
    if (!write.entries().isEmpty()) {
      long oldLast = write.snapshot() == null ? before.lastIndex() : after.truncatedIndex();
      disk.stageAppend(commit, write.entries(), oldLast);
    }
    if (write.hardState() != null) {
      disk.stageHardState(commit, write.hardState());
    }
    if (write.confState() != null) {
      putConfState(commit.rocks, write.confState());
    }
  }

  /**
   * Makes {@code write} visible to readers; called once its batch is durable (or, for a batch of
   * commit-index-only hard states, written).
   */
  synchronized void publish(LogWrite write, LogState after) {
    state = after;
    if (write.snapshot() != null) {
      snapshot = write.snapshot();
      confState = write.snapshot().confState();
      cache.clear();
    }
    cache.append(write.entries());
    Invariants.check(
        cache.isEmpty()
            || cache.lastIndex() == after.lastIndex() && cache.firstIndex() >= after.firstIndex(),
        "group %d: log cache holds %d..%d, log is %s",
        groupId,
        cache.isEmpty() ? 0 : cache.firstIndex(),
        cache.isEmpty() ? 0 : cache.lastIndex(),
        after);
    if (write.hardState() != null) {
      hardState = write.hardState();
    }
    if (write.confState() != null) {
      confState = write.confState();
    }
  }

  private void putSnapshot(WriteBatch batch, SnapshotMetadata metadata) throws RocksDBException {
    byte[] key = Keys.state(groupId, Keys.TAG_SNAPSHOT);
    ByteBuffer payload = ByteBuffer.allocate(16 + Codec.confStateSizeBytes(metadata.confState()));
    payload.putLong(metadata.index()).putLong(metadata.term());
    Codec.putConfState(payload, metadata.confState());
    batch.put(store.raftState, key, Codec.seal(key, payload));
  }

  private void putConfState(WriteBatch batch, ConfState conf) throws RocksDBException {
    byte[] key = Keys.state(groupId, Keys.TAG_CONF_STATE);
    ByteBuffer payload = ByteBuffer.allocate(Codec.confStateSizeBytes(conf));
    Codec.putConfState(payload, conf);
    batch.put(store.raftState, key, Codec.seal(key, payload));
  }
}
