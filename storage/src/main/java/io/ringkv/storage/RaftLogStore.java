package io.ringkv.storage;

import io.micrometer.core.instrument.Counter;
import io.ringkv.raft.ConfState;
import io.ringkv.raft.Entry;
import io.ringkv.raft.EntryType;
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
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;

/**
 * One group's Raft log, hard state and membership configuration in the shared RocksDB.
 *
 * <p>Writes go through the {@link GroupCommitter} (so many groups share one fsync); this class
 * plans each write against the log bounds, adds its operations to the shared batch, and publishes
 * the new bounds only after the batch is durable, so readers never see entries that could still be
 * lost. Bounds, hard state and configuration are cached.
 *
 * <p>The tail of the log is also kept in memory ({@link RaftLogCache}, bounded by {@code
 * logCacheEntriesMax} and {@code logCacheSizeBytesMax}): it is filled where the bounds are
 * published, so it only ever holds durable entries, and {@link #term} and {@link #entries} answer
 * from it without RocksDB. Older entries are read from RocksDB, their checksums verified on every
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
  private final Counter cacheHits;
  private final Counter cacheMisses;

  RaftLogStore(Store store, long groupId, Lock commitLock) {
    this.store = store;
    this.groupId = groupId;
    this.commitLock = commitLock;
    // Starts empty after a reopen: the first appends fill it, and reads fall back to RocksDB.
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
            .description("Raft log reads (term or entries) that needed RocksDB")
            .register(store.options.meterRegistry());
    this.hardState =
        RaftStateRecords.read(store, groupId, Keys.TAG_HARD_STATE, RaftStateRecords::hardState);
    this.confState =
        RaftStateRecords.read(store, groupId, Keys.TAG_CONF_STATE, Codec::getConfState);
    this.snapshot =
        RaftStateRecords.read(store, groupId, Keys.TAG_SNAPSHOT, RaftStateRecords::snapshot);
    this.state = loadState();
  }

  private LogState loadState() {
    LogState truncated =
        RaftStateRecords.read(store, groupId, Keys.TAG_LOG_TRUNCATED, RaftStateRecords::position);
    LogState bounds = truncated == null ? LogState.EMPTY : truncated;
    long lastIndex = bounds.truncatedIndex();
    try (RocksIterator iterator = store.db.newIterator(store.raftLog)) {
      iterator.seek(Keys.log(groupId, bounds.firstIndex()));
      if (iterator.isValid() && inGroup(iterator.key())) {
        long first = Keys.logIndex(iterator.key());
        Invariants.check(
            first == bounds.firstIndex(),
            "group %d: log starts at %d, expected %d",
            groupId,
            first,
            bounds.firstIndex());
        iterator.seekForPrev(Keys.log(groupId, Long.MAX_VALUE));
        lastIndex = Keys.logIndex(iterator.key());
      }
      iterator.status();
    } catch (RocksDBException e) {
      throw store.failure("load log bounds of group " + groupId, e);
    }
    return new LogState(bounds.truncatedIndex(), bounds.truncatedTerm(), lastIndex);
  }

  private boolean inGroup(byte[] key) {
    return ByteBuffer.wrap(key).getLong(0) == groupId;
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
    byte[] key = Keys.log(groupId, index);
    byte[] value = store.get(store.raftLog, key);
    if (value == null) {
      throw missing(index);
    }
    return decode(key, value, index).term();
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
    // The older part from RocksDB, up to where the cache begins; then the cache again, and RocksDB
    // once more should the cache have moved on (eviction, compaction) in between.
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

  /** Reads {@code [next, end)} from RocksDB; returns the index after the last one taken. */
  private long fromDisk(Batch batch, long next, long end) {
    if (batch.full || next >= end) {
      return next;
    }
    long[] expected = {next};
    store.scan(
        store.raftLog,
        null,
        Keys.log(groupId, next),
        Keys.log(groupId, end),
        (key, value) -> {
          if (Keys.logIndex(key) != expected[0]) {
            throw missing(expected[0]);
          }
          if (!batch.offer(decode(key, value, expected[0]))) {
            return false;
          }
          expected[0]++;
          return true;
        });
    if (!batch.full && expected[0] < end) {
      throw missing(expected[0]);
    }
    return expected[0];
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

  private Entry decode(byte[] key, byte[] value, long index) {
    return Codec.decode(
        key,
        value,
        "raft log group " + groupId + " index " + index,
        payload -> {
          long term = payload.getLong();
          EntryType type = EntryType.fromCode(payload.get());
          byte[] data = new byte[payload.remaining()];
          payload.get(data);
          return new Entry(term, index, type, data);
        });
  }

  /**
   * Drops entries up to and including {@code index} with one range delete, remembering the term at
   * {@code index} so {@code term(firstIndex() - 1)} keeps working. Not fsynced: losing a compaction
   * in a crash only brings entries back. A no-op if already compacted that far.
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
      try (WriteBatch batch = new WriteBatch()) {
        batch.deleteRange(
            store.raftLog, Keys.log(groupId, bounds.firstIndex()), Keys.log(groupId, index + 1));
        putPosition(batch, after);
        store.write(batch, false);
      } catch (RocksDBException e) {
        throw store.failure("compact group " + groupId, e);
      }
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
    return new LogState(
        base.truncatedIndex(), base.truncatedTerm(), write.entries().getLast().index());
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
   * Adds the operations of {@code write} (already planned from {@code before}) to {@code batch}.
   */
  void addTo(WriteBatch batch, LogWrite write, LogState before, LogState after)
      throws RocksDBException {
    if (write.snapshot() != null) {
      batch.deleteRange(store.raftLog, Keys.log(groupId, 0), Keys.log(groupId, Long.MAX_VALUE));
      putPosition(batch, after);
      putSnapshot(batch, write.snapshot());
      putConfState(batch, write.snapshot().confState());
    }
    for (Entry entry : write.entries()) {
      byte[] key = Keys.log(groupId, entry.index());
      ByteBuffer payload = ByteBuffer.allocate(9 + entry.data().length);
      payload.putLong(entry.term()).put((byte) entry.type().code()).put(entry.data());
      batch.put(store.raftLog, key, Codec.seal(key, payload));
    }
    long oldLast = write.snapshot() == null ? before.lastIndex() : after.truncatedIndex();
    if (!write.entries().isEmpty() && after.lastIndex() < oldLast) {
      // The new entries replace a conflicting suffix that was longer: drop what lies beyond.
      batch.deleteRange(
          store.raftLog, Keys.log(groupId, after.lastIndex() + 1), Keys.log(groupId, oldLast + 1));
    }
    if (write.hardState() != null) {
      byte[] key = Keys.state(groupId, Keys.TAG_HARD_STATE);
      HardState hard = write.hardState();
      ByteBuffer payload = ByteBuffer.allocate(24);
      payload.putLong(hard.term()).putLong(hard.vote()).putLong(hard.commit());
      batch.put(store.raftState, key, Codec.seal(key, payload));
    }
    if (write.confState() != null) {
      putConfState(batch, write.confState());
    }
  }

  /** Makes {@code write} visible to readers; called once its batch is durable. */
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

  private void putPosition(WriteBatch batch, LogState position) throws RocksDBException {
    byte[] key = Keys.state(groupId, Keys.TAG_LOG_TRUNCATED);
    ByteBuffer payload = ByteBuffer.allocate(16);
    payload.putLong(position.truncatedIndex()).putLong(position.truncatedTerm());
    batch.put(store.raftState, key, Codec.seal(key, payload));
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
