package io.ringkv.storage;

import io.ringkv.raft.Invariants;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDBException;
import org.rocksdb.Snapshot;
import org.rocksdb.WriteBatch;

/**
 * One partition's change records, keyed by revision, written by {@link PartitionStore#apply} in the
 * same batch as the data they describe.
 *
 * <p>Retention drops whole revisions from the oldest end, by age (record timestamp against the
 * injected clock) and by bytes per partition, and records how far it dropped (the floor) in the
 * same batch, so {@link #oldestRetainedRevision()} stays exact even when every record is gone. The
 * retained byte count is kept in memory, computed by one scan on first use.
 *
 * <p>The floor only ever rises (checked on every move). Two writers move it: retention, which scans
 * and then drops, and a snapshot install, which replaces every record and sets the floor to the
 * snapshot's index. Both move it under this object's lock, so retention that chose what to drop
 * before an install cannot write its older floor after it: that would announce records as retained
 * that the install deleted, and a reader would be served a gap without a "compacted" error.
 */
public final class ChangefeedLog {
  private final Store store;
  private final long groupId;
  private long floorRevision;
  private long retainedBytes = -1;

  /**
   * Runs inside {@link #enforceRetention()} after it chose what to drop and before it writes: the
   * seam where a test lets a snapshot install race retention deterministically.
   */
  volatile Runnable retentionChosenHook = () -> {};

  ChangefeedLog(Store store, long groupId) {
    this.store = store;
    this.groupId = groupId;
    Long floor = RaftStateRecords.read(store, groupId, Keys.TAG_CHANGES_FLOOR, ByteBuffer::getLong);
    this.floorRevision = floor == null ? 0 : floor;
  }

  /** Every record with a revision at or above this one is still retained. */
  public synchronized long oldestRetainedRevision() {
    return floorRevision + 1;
  }

  /**
   * Records from {@code fromRevision} on, in revision order, stopping at a revision boundary once
   * {@code countMax} records or {@code sizeBytesMax} bytes are reached (a revision is never split,
   * so a consumer can resume from the next revision).
   *
   * @throws ChangefeedCompactedException if retention already dropped {@code fromRevision}
   */
  public List<ChangeRecord> read(long fromRevision, int countMax, long sizeBytesMax) {
    Invariants.check(countMax >= 1 && sizeBytesMax >= 1, "read bounds must be >= 1");
    Snapshot snapshot = store.db.getSnapshot();
    try (ReadOptions readOptions = new ReadOptions().setSnapshot(snapshot)) {
      // The floor is read from the same snapshot as the records: retention moves both at once.
      Long floor =
          RaftStateRecords.readAt(
              store, readOptions, groupId, Keys.TAG_CHANGES_FLOOR, ByteBuffer::getLong);
      long oldest = (floor == null ? 0 : floor) + 1;
      if (fromRevision < oldest) {
        throw new ChangefeedCompactedException(groupId, fromRevision, oldest);
      }
      List<ChangeRecord> records = new ArrayList<>();
      long[] sizeBytes = {0};
      store.scan(
          store.changes,
          readOptions,
          Keys.change(groupId, fromRevision, 0),
          Keys.groupEnd(groupId),
          (key, value) -> {
            ChangeRecord record = DataRecords.decodeChange(groupId, key, value);
            boolean full = records.size() >= countMax || sizeBytes[0] >= sizeBytesMax;
            if (full && record.revision() != records.getLast().revision()) {
              return false;
            }
            records.add(record);
            sizeBytes[0] += key.length + value.length;
            return true;
          });
      return records;
    } finally {
      store.db.releaseSnapshot(snapshot);
    }
  }

  /** Bytes (keys and values) of the records still retained. */
  public synchronized long retainedBytes() {
    if (retainedBytes < 0) {
      long[] total = {0};
      scanOldestFirst((key, value) -> {
        total[0] += key.length + value.length;
        return true;
      });
      retainedBytes = total[0];
    }
    return retainedBytes;
  }

  /**
   * Drops the oldest revisions that are older than {@code changefeedRetentionAge} or beyond {@code
   * changefeedRetentionBytesMax}; returns how many records were dropped.
   */
  public synchronized int enforceRetention() {
    long cutoffMillis =
        store.options.clock().millis() - store.options.changefeedRetentionAge().toMillis();
    long bytesMax = store.options.changefeedRetentionBytesMax();
    long[] remainingBytes = {retainedBytes()};
    int[] dropped = {0};
    long[] lastDroppedRevision = {-1};
    scanOldestFirst((key, value) -> {
      ChangeRecord record = DataRecords.decodeChange(groupId, key, value);
      boolean drop =
          record.timestampMillis() < cutoffMillis
              || remainingBytes[0] > bytesMax
              || record.revision() == lastDroppedRevision[0];
      if (drop) {
        remainingBytes[0] -= key.length + value.length;
        lastDroppedRevision[0] = record.revision();
        dropped[0]++;
      }
      return drop;
    });
    if (dropped[0] > 0) {
      retentionChosenHook.run();
      dropThrough(lastDroppedRevision[0]);
      retainedBytes = remainingBytes[0];
    }
    return dropped[0];
  }

  private void scanOldestFirst(Store.RecordVisitor visitor) {
    store.scan(store.changes, null, Keys.group(groupId), Keys.groupEnd(groupId), visitor);
  }

  private void dropThrough(long revision) {
    checkFloorRises(revision);
    try (WriteBatch batch = new WriteBatch()) {
      batch.deleteRange(store.changes, Keys.group(groupId), Keys.change(groupId, revision + 1, 0));
      putFloor(batch, revision);
      store.write(batch, false);
    } catch (RocksDBException e) {
      throw store.failure("changefeed retention of group " + groupId, e);
    }
    floorRevision = revision;
  }

  /**
   * Writes {@code batch} of a snapshot install durably with {@code floor} (the snapshot's index) as
   * the new floor: the install already deleted every record, so nothing at or below it exists any
   * more. Under this log's lock, so it never interleaves with retention.
   */
  synchronized void writeWithFloor(WriteBatch batch, long floor) throws RocksDBException {
    checkFloorRises(floor);
    putFloor(batch, floor);
    store.write(batch, true);
    floorRevision = floor;
    retainedBytes = -1;
  }

  private void checkFloorRises(long revision) {
    Invariants.check(
        revision >= floorRevision,
        "group %d: the changefeed floor would move down from %d to %d",
        groupId,
        floorRevision,
        revision);
  }

  private void putFloor(WriteBatch batch, long revision) throws RocksDBException {
    byte[] key = Keys.state(groupId, Keys.TAG_CHANGES_FLOOR);
    batch.put(store.raftState, key, Codec.seal(key, ByteBuffer.allocate(8).putLong(revision)));
  }

  synchronized void appended(long sizeBytes) {
    if (retainedBytes >= 0) {
      retainedBytes += sizeBytes;
    }
  }
}
