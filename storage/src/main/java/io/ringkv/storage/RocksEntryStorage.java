package io.ringkv.storage;

import io.ringkv.raft.Entry;
import io.ringkv.raft.EntryType;
import io.ringkv.raft.HardState;
import io.ringkv.raft.Invariants;
import io.ringkv.raft.SnapshotMetadata;
import java.nio.ByteBuffer;
import java.util.List;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;

/**
 * A group's entries in the {@code raft_log} column family (group, index to a sealed entry), its
 * compaction point and hard state in {@code raft_state}: all of one commit in one RocksDB batch.
 */
final class RocksEntryStorage implements EntryStorage {
  private final Store store;
  private final long groupId;

  RocksEntryStorage(Store store, long groupId) {
    this.store = store;
    this.groupId = groupId;
  }

  @Override
  public LogState loadBounds(SnapshotMetadata snapshot) {
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

  @Override
  public HardState loadHardState() {
    return RaftStateRecords.read(store, groupId, Keys.TAG_HARD_STATE, RaftStateRecords::hardState);
  }

  @Override
  public long term(long index) {
    byte[] key = Keys.log(groupId, index);
    byte[] value = store.get(store.raftLog, key);
    return value == null ? -1 : decode(key, value, index).term();
  }

  @Override
  public long read(long next, long end, EntryVisitor visitor) {
    long[] expected = {next};
    store.scan(
        store.raftLog,
        null,
        Keys.log(groupId, next),
        Keys.log(groupId, end),
        (key, value) -> {
          if (Keys.logIndex(key) != expected[0]
              || !visitor.offer(decode(key, value, expected[0]))) {
            return false;
          }
          expected[0]++;
          return true;
        });
    return expected[0];
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

  /** One range delete, not fsynced: losing a compaction in a crash only brings entries back. */
  @Override
  public void compact(LogState before, LogState after) {
    try (WriteBatch batch = new WriteBatch()) {
      batch.deleteRange(
          store.raftLog,
          Keys.log(groupId, before.firstIndex()),
          Keys.log(groupId, after.truncatedIndex() + 1));
      putPosition(batch, after);
      store.write(batch, false);
    } catch (RocksDBException e) {
      throw store.failure("compact group " + groupId, e);
    }
  }

  @Override
  public void stageReset(LogCommit commit, LogState after) throws RocksDBException {
    commit.rocks.deleteRange(
        store.raftLog, Keys.log(groupId, 0), Keys.log(groupId, Long.MAX_VALUE));
    putPosition(commit.rocks, after);
  }

  @Override
  public void stageAppend(LogCommit commit, List<Entry> entries, long oldLast)
      throws RocksDBException {
    for (Entry entry : entries) {
      byte[] key = Keys.log(groupId, entry.index());
      ByteBuffer payload = ByteBuffer.allocate(9 + entry.data().length);
      payload.putLong(entry.term()).put((byte) entry.type().code()).put(entry.data());
      commit.rocks.put(store.raftLog, key, Codec.seal(key, payload));
    }
    long newLast = entries.getLast().index();
    if (newLast < oldLast) {
      // The new entries replace a conflicting suffix that was longer: drop what lies beyond.
      commit.rocks.deleteRange(
          store.raftLog, Keys.log(groupId, newLast + 1), Keys.log(groupId, oldLast + 1));
    }
  }

  @Override
  public void stageHardState(LogCommit commit, HardState hard) throws RocksDBException {
    byte[] key = Keys.state(groupId, Keys.TAG_HARD_STATE);
    ByteBuffer payload = ByteBuffer.allocate(24);
    payload.putLong(hard.term()).putLong(hard.vote()).putLong(hard.commit());
    commit.rocks.put(store.raftState, key, Codec.seal(key, payload));
  }

  private void putPosition(WriteBatch batch, LogState position) throws RocksDBException {
    byte[] key = Keys.state(groupId, Keys.TAG_LOG_TRUNCATED);
    ByteBuffer payload = ByteBuffer.allocate(16);
    payload.putLong(position.truncatedIndex()).putLong(position.truncatedTerm());
    batch.put(store.raftState, key, Codec.seal(key, payload));
  }
}
