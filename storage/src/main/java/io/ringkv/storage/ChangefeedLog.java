package io.ringkv.storage;

import io.ringkv.raft.Invariants;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
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
 */
public final class ChangefeedLog {
  private final Store store;
  private final long groupId;
  private long floorRevision;
  private long retainedBytes = -1;

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
    try (ReadOptions readOptions = new ReadOptions().setSnapshot(snapshot);
        RocksIterator iterator = store.db.newIterator(store.changes, readOptions)) {
      long oldest = floorAt(readOptions) + 1;
      if (fromRevision < oldest) {
        throw new ChangefeedCompactedException(groupId, fromRevision, oldest);
      }
      List<ChangeRecord> records = new ArrayList<>();
      long sizeBytes = 0;
      byte[] end = Keys.groupEnd(groupId);
      for (iterator.seek(Keys.change(groupId, fromRevision, 0));
          iterator.isValid() && java.util.Arrays.compareUnsigned(iterator.key(), end) < 0;
          iterator.next()) {
        ChangeRecord record = DataRecords.decodeChange(groupId, iterator.key(), iterator.value());
        boolean full = records.size() >= countMax || sizeBytes >= sizeBytesMax;
        if (full && record.revision() != records.getLast().revision()) {
          break;
        }
        records.add(record);
        sizeBytes += iterator.key().length + iterator.value().length;
      }
      return records;
    } finally {
      store.db.releaseSnapshot(snapshot);
    }
  }

  private long floorAt(ReadOptions readOptions) {
    Long floor =
        RaftStateRecords.readAt(
            store, readOptions, groupId, Keys.TAG_CHANGES_FLOOR, ByteBuffer::getLong);
    return floor == null ? 0 : floor;
  }

  /** Bytes (keys and values) of the records still retained. */
  public synchronized long retainedBytes() {
    if (retainedBytes < 0) {
      retainedBytes = scanBytes();
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
    long remainingBytes = retainedBytes();
    int dropped = 0;
    long lastDroppedRevision = -1;
    try (RocksIterator iterator = store.db.newIterator(store.changes)) {
      byte[] end = Keys.groupEnd(groupId);
      for (iterator.seek(Keys.group(groupId));
          iterator.isValid() && java.util.Arrays.compareUnsigned(iterator.key(), end) < 0;
          iterator.next()) {
        ChangeRecord record = DataRecords.decodeChange(groupId, iterator.key(), iterator.value());
        boolean drop =
            record.timestampMillis() < cutoffMillis
                || remainingBytes > bytesMax
                || record.revision() == lastDroppedRevision;
        if (!drop) {
          break;
        }
        remainingBytes -= iterator.key().length + iterator.value().length;
        lastDroppedRevision = record.revision();
        dropped++;
      }
    }
    if (dropped > 0) {
      dropThrough(lastDroppedRevision);
      retainedBytes = remainingBytes;
    }
    return dropped;
  }

  private void dropThrough(long revision) {
    try (WriteBatch batch = new WriteBatch()) {
      batch.deleteRange(store.changes, Keys.group(groupId), Keys.change(groupId, revision + 1, 0));
      putFloor(batch, revision);
      store.write(batch, false);
    } catch (RocksDBException e) {
      throw store.failure("changefeed retention of group " + groupId, e);
    }
    floorRevision = revision;
  }

  void putFloor(WriteBatch batch, long revision) throws RocksDBException {
    byte[] key = Keys.state(groupId, Keys.TAG_CHANGES_FLOOR);
    batch.put(store.raftState, key, Codec.seal(key, ByteBuffer.allocate(8).putLong(revision)));
  }

  synchronized void appended(long sizeBytes) {
    if (retainedBytes >= 0) {
      retainedBytes += sizeBytes;
    }
  }

  /** After a snapshot install: nothing at or below {@code floor} exists any more. */
  synchronized void reset(long floor) {
    floorRevision = floor;
    retainedBytes = -1;
  }

  private long scanBytes() {
    long total = 0;
    try (RocksIterator iterator = store.db.newIterator(store.changes)) {
      byte[] end = Keys.groupEnd(groupId);
      for (iterator.seek(Keys.group(groupId));
          iterator.isValid() && java.util.Arrays.compareUnsigned(iterator.key(), end) < 0;
          iterator.next()) {
        total += iterator.key().length + iterator.value().length;
      }
    }
    return total;
  }
}
