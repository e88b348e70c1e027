package io.ringkv.storage;

import io.ringkv.raft.Invariants;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDBException;
import org.rocksdb.Snapshot;

/**
 * Reads of one partition from one consistent RocksDB snapshot: every read through the same view
 * sees the state as of the same applied index. Close it to release the snapshot.
 */
public final class PartitionReadView implements AutoCloseable {
  private final Store store;
  private final long groupId;
  private final Snapshot snapshot;
  private final ReadOptions readOptions;
  private final long appliedIndexAtOpen;

  /** {@code appliedIndexAtOpen}: the partition's applied index when the snapshot is taken. */
  PartitionReadView(Store store, long groupId, long appliedIndexAtOpen) {
    this.store = store;
    this.groupId = groupId;
    this.appliedIndexAtOpen = appliedIndexAtOpen;
    this.snapshot = store.db.getSnapshot();
    this.readOptions = new ReadOptions().setSnapshot(snapshot).setVerifyChecksums(true);
  }

  /** The partition's applied index when this view was opened (the state it reflects). */
  public long appliedIndexAtOpen() {
    return appliedIndexAtOpen;
  }

  /** The applied state this view reflects. */
  public AppliedState appliedState() {
    AppliedState applied =
        RaftStateRecords.readAt(
            store, readOptions, groupId, Keys.TAG_APPLIED, DataRecords::applied);
    return applied == null ? AppliedState.EMPTY : applied;
  }

  public Optional<StoredValue> get(byte[] userKey) {
    byte[] key = Keys.user(groupId, userKey);
    byte[] value = read(store.data, key);
    return value == null
        ? Optional.empty()
        : Optional.of(DataRecords.decodeValue(groupId, key, value));
  }

  public Optional<SessionRecord> session(long sessionId) {
    byte[] key = Keys.session(groupId, sessionId);
    byte[] value = read(store.data, key);
    return value == null
        ? Optional.empty()
        : Optional.of(DataRecords.decodeSession(groupId, sessionId, key, value));
  }

  /**
   * The session records whose ids lie in [{@code firstId}, {@code lastId}] (ids compared unsigned),
   * in ascending id order.
   */
  public List<SessionRecord> sessions(long firstId, long lastId) {
    Invariants.check(
        Long.compareUnsigned(firstId, lastId) <= 0, "session range %d..%d", firstId, lastId);
    byte[] end =
        lastId == -1L
            ? Keys.namespace(groupId, (byte) (Keys.NAMESPACE_SESSION + 1))
            : Keys.session(groupId, lastId + 1);
    List<SessionRecord> result = new ArrayList<>();
    store.scan(
        store.data,
        readOptions,
        Keys.session(groupId, firstId),
        end,
        (key, value) -> {
          long sessionId = java.nio.ByteBuffer.wrap(key, 9, 8).getLong();
          result.add(DataRecords.decodeSession(groupId, sessionId, key, value));
          return true;
        });
    return result;
  }

  /** Up to {@code limit} keys of {@code range} in ascending byte order. */
  public List<KeyValue> scan(ScanRange range, int limit) {
    return scan(range, limit, Long.MAX_VALUE, 0);
  }

  /**
   * Up to {@code limit} keys of {@code range} in ascending byte order, stopping also at the first
   * pair that takes the running size over {@code bytesMax} (that pair is the last one returned, so
   * the caller sees that more follow without holding more than one pair past its budget). A pair's
   * size is its key and value lengths plus {@code pairOverheadBytes}.
   */
  public List<KeyValue> scan(ScanRange range, int limit, long bytesMax, int pairOverheadBytes) {
    Invariants.check(limit >= 1, "scan limit must be >= 1, got %d", limit);
    Invariants.check(bytesMax >= 1 && pairOverheadBytes >= 0, "bad scan byte budget");
    byte[] end =
        range.end() == null
            ? Keys.namespace(groupId, (byte) (Keys.NAMESPACE_USER + 1))
            : Keys.user(groupId, range.end());
    List<KeyValue> result = new ArrayList<>();
    long[] sizeBytes = {0};
    store.scan(
        store.data,
        readOptions,
        Keys.user(groupId, range.start()),
        end,
        (key, value) -> {
          KeyValue pair =
              new KeyValue(Keys.userKeyOf(key), DataRecords.decodeValue(groupId, key, value));
          result.add(pair);
          sizeBytes[0] += pair.key().length + pair.value().value().length + pairOverheadBytes;
          return result.size() < limit && sizeBytes[0] <= bytesMax;
        });
    return result;
  }

  private byte[] read(org.rocksdb.ColumnFamilyHandle family, byte[] key) {
    try {
      return store.db.get(family, readOptions, key);
    } catch (RocksDBException e) {
      throw store.failure("read", e);
    }
  }

  @Override
  public void close() {
    readOptions.close();
    store.db.releaseSnapshot(snapshot);
  }
}
