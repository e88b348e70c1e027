package io.ringkv.storage;

import io.ringkv.raft.Invariants;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;

/**
 * One partition's state machine data: user keys with etcd-style revisions, client sessions, the
 * applied state, and (through {@link ChangefeedLog}) its change records.
 *
 * <p>{@link #apply} writes everything of one batch in one RocksDB WriteBatch without fsync: the
 * Raft log is the durability point, and a crash re-applies entries after the applied index. Applies
 * of one partition are serialized; reads take a RocksDB snapshot and never block applies.
 */
public final class PartitionStore {
  private static final org.slf4j.Logger log =
      org.slf4j.LoggerFactory.getLogger(PartitionStore.class);
  private final Store store;
  private final long groupId;
  private final ChangefeedLog changefeed;
  private AppliedState applied;

  /**
   * Bytes one partition keeps of its recently applied keys' current values ({@link LatestValues}):
   * with the default 16 partitions a node holds, 16 MiB.
   */
  public static final long LATEST_VALUES_BYTES_MAX = 1 << 20;

  private final LatestValues latest = new LatestValues(LATEST_VALUES_BYTES_MAX);
  private boolean needsSnapshot;
  private String needsSnapshotReason;

  /** Opens the partition, first finishing a snapshot install a crash interrupted (roll-forward). */
  PartitionStore(Store store, long groupId, ChangefeedLog changefeed) {
    this.store = store;
    this.groupId = groupId;
    this.changefeed = changefeed;
    PartitionSnapshots.Interrupted interrupted = PartitionSnapshots.interrupted(store, groupId);
    if (interrupted != null) {
      needsSnapshotReason = PartitionSnapshots.rollForward(store, groupId, interrupted, changefeed);
      needsSnapshot = needsSnapshotReason != null;
      if (needsSnapshot) {
        log.error("partition of group {} stays unavailable: {}", groupId, needsSnapshotReason);
      } else {
        log.info(
            "partition of group {}: interrupted snapshot install at {} finished from {}",
            groupId,
            interrupted.index(),
            interrupted.directory());
      }
    }
    AppliedState stored =
        RaftStateRecords.read(store, groupId, Keys.TAG_APPLIED, DataRecords::applied);
    this.applied = stored == null ? AppliedState.EMPTY : stored;
  }

  public long groupId() {
    return groupId;
  }

  public synchronized AppliedState appliedState() {
    return applied;
  }

  /**
   * True while the partition's state is incomplete because a snapshot install did not finish, so
   * reads and applies fail with {@link PartitionUnavailableException}. An install a crash
   * interrupted does not leave it so: opening the store rolls it forward from the snapshot files
   * its durable marker names. It holds only when (1) that roll-forward was impossible, because
   * those files are gone, damaged or of another index, or (2) an install in this process failed
   * part way (its marker stays, so the next open rolls it forward if its files are intact, else
   * case 1). A later complete {@link #installSnapshot} repairs either case; the storage engine
   * never asks a peer for one by itself.
   */
  public synchronized boolean needsSnapshot() {
    return needsSnapshot;
  }

  /**
   * Why {@link #needsSnapshot()} holds, naming the snapshot directory: the roll-forward at open
   * could not use its files, or an install in this process failed; null when the partition is
   * available.
   */
  public synchronized String needsSnapshotReason() {
    return needsSnapshot ? needsSnapshotReason : null;
  }

  /**
   * Applies {@code batch} atomically and returns the change records it produced (also stored in the
   * changefeed).
   *
   * @throws LimitExceededException if a key, value or the batch is above its limit; nothing written
   * @throws PartitionUnavailableException if the partition needs a snapshot
   */
  public synchronized List<ChangeRecord> apply(ApplyBatch batch) {
    return apply(batch, Map.of());
  }

  /**
   * As {@link #apply(ApplyBatch)}, with the current values of some user keys already known: the
   * caller read them from a {@link #readView()} of this store at the applied state this batch
   * starts from (empty = absent), so they need not be read again. Keys not given are read here.
   */
  public synchronized List<ChangeRecord> apply(
      ApplyBatch batch, Map<ByteBuffer, Optional<StoredValue>> knownCurrent) {
    checkAvailable();
    checkLimits(batch);
    Invariants.check(
        batch.appliedIndex() > applied.index(),
        "group %d: apply of index %d after applied index %d",
        groupId,
        batch.appliedIndex(),
        applied.index());
    if (!batch.mutations().isEmpty()) {
      Invariants.check(
          batch.mutations().getFirst().revision() > applied.index(),
          "group %d: mutation revision %d already applied",
          groupId,
          batch.mutations().getFirst().revision());
    }
    AppliedState next =
        new AppliedState(
            batch.appliedIndex(),
            batch.appliedTerm(),
            batch.confState() == null ? applied.confState() : batch.confState());
    Map<ByteBuffer, Optional<StoredValue>> overlay = new HashMap<>();
    try (WriteBatch writeBatch = new WriteBatch()) {
      List<ChangeRecord> changes = addMutations(writeBatch, batch, knownCurrent, overlay);
      long changeBytes = 0;
      for (ChangeRecord change : changes) {
        byte[] key = Keys.change(groupId, change.revision(), change.ordinal());
        byte[] value = DataRecords.encodeChange(key, change);
        writeBatch.put(store.changes, key, value);
        changeBytes += key.length + value.length;
      }
      for (SessionRecord session : batch.sessions()) {
        byte[] key = Keys.session(groupId, session.sessionId());
        if (session.removed()) {
          writeBatch.delete(store.data, key);
        } else {
          writeBatch.put(store.data, key, DataRecords.encodeSession(key, session));
        }
      }
      byte[] appliedKey = Keys.state(groupId, Keys.TAG_APPLIED);
      writeBatch.put(store.raftState, appliedKey, DataRecords.encodeApplied(appliedKey, next));
      store.write(writeBatch, false);
      applied = next;
      remember(overlay, batch.sessions());
      changefeed.appended(changeBytes);
      return changes;
    } catch (RocksDBException e) {
      latest.clear();
      throw store.failure("apply to group " + groupId, e);
    } catch (RuntimeException | Error e) {
      latest.clear();
      throw e;
    }
  }

  /** After an apply's write: the batch's keys and sessions as they are now. */
  private void remember(
      Map<ByteBuffer, Optional<StoredValue>> overlay, List<SessionRecord> sessions) {
    for (Map.Entry<ByteBuffer, Optional<StoredValue>> entry : overlay.entrySet()) {
      // Each overlay key wraps a whole key array of its own (see addMutations).
      latest.put(
          entry.getKey().array(),
          entry.getValue().isPresent() ? entry.getValue().get() : LatestValues.ABSENT);
    }
    for (SessionRecord session : sessions) {
      latest.put(
          Keys.session(groupId, session.sessionId()),
          session.removed() ? LatestValues.ABSENT : session);
    }
  }

  /**
   * The current value of {@code userKey} for an apply about to be built from {@code view}: from the
   * recently applied keys when held there, else read through the view (and kept, when the view is
   * of the current applied state).
   */
  public Optional<StoredValue> currentValue(byte[] userKey, PartitionReadView view) {
    return current(Keys.user(groupId, userKey), view, StoredValue.class, () -> view.get(userKey));
  }

  /** As {@link #currentValue}, for a session's record. */
  public Optional<SessionRecord> currentSession(long sessionId, PartitionReadView view) {
    return current(
        Keys.session(groupId, sessionId), view, SessionRecord.class, () -> view.session(sessionId));
  }

  /**
   * The kept value of {@code key} when {@code view} is of the current applied state, else {@code
   * read}, kept if the state did not move meanwhile. The read runs outside the lock, which readers
   * opening views also take.
   */
  private <T> Optional<T> current(
      byte[] key, PartitionReadView view, Class<T> type, Supplier<Optional<T>> read) {
    synchronized (this) {
      if (view.appliedIndexAtOpen() == applied.index()) {
        Object held = latest.get(key);
        if (type.isInstance(held)) {
          return Optional.of(type.cast(held));
        }
        if (held == LatestValues.ABSENT) {
          return Optional.empty();
        }
      }
    }
    Optional<T> value = read.get();
    synchronized (this) {
      if (view.appliedIndexAtOpen() == applied.index()) {
        latest.put(key, value.isPresent() ? value.get() : LatestValues.ABSENT);
      }
    }
    return value;
  }

  /** Keys held by {@link #currentValue} and {@link #currentSession} (for tests). */
  synchronized int latestValuesHeld() {
    return latest.size();
  }

  private List<ChangeRecord> addMutations(
      WriteBatch writeBatch,
      ApplyBatch batch,
      Map<ByteBuffer, Optional<StoredValue>> knownCurrent,
      Map<ByteBuffer, Optional<StoredValue>> overlay)
      throws RocksDBException {
    // Later mutations of the same batch must see earlier ones: keep them in an overlay.
    for (Map.Entry<ByteBuffer, Optional<StoredValue>> known : knownCurrent.entrySet()) {
      byte[] userKey = new byte[known.getKey().remaining()];
      known.getKey().duplicate().get(userKey);
      overlay.put(ByteBuffer.wrap(Keys.user(groupId, userKey)), known.getValue());
    }
    List<ChangeRecord> changes = new ArrayList<>();
    for (Mutation mutation : batch.mutations()) {
      long revision = mutation.revision();
      byte[] key = Keys.user(groupId, mutation.key());
      ByteBuffer overlayKey = ByteBuffer.wrap(key);
      StoredValue previous =
          overlay.computeIfAbsent(overlayKey, k -> readCurrent(key)).orElse(null);
      StoredValue next = null;
      if (mutation instanceof Mutation.Put put) {
        next =
            previous == null
                ? new StoredValue(put.value(), revision, revision, 1)
                : new StoredValue(
                    put.value(), previous.createRevision(), revision, previous.version() + 1);
        writeBatch.put(store.data, key, DataRecords.encodeValue(key, next));
      } else if (previous != null) {
        writeBatch.delete(store.data, key);
      } else {
        continue;
      }
      overlay.put(overlayKey, Optional.ofNullable(next));
      boolean sameRevision = !changes.isEmpty() && changes.getLast().revision() == revision;
      int ordinal = sameRevision ? changes.getLast().ordinal() + 1 : 0;
      changes.add(
          new ChangeRecord(
              revision,
              ordinal,
              batch.timestampMillisOf(revision),
              mutation.key(),
              next,
              previous,
              batch.hlcLogicalOf(revision)));
    }
    return changes;
  }

  private Optional<StoredValue> readCurrent(byte[] key) {
    byte[] value = store.get(store.data, key);
    return value == null
        ? Optional.empty()
        : Optional.of(DataRecords.decodeValue(groupId, key, value));
  }

  private void checkLimits(ApplyBatch batch) {
    StorageOptions options = store.options;
    int entries = batch.mutations().size() + batch.sessions().size();
    if (entries > options.batchEntriesMax()) {
      throw store.limitExceeded("batchEntriesMax", entries, options.batchEntriesMax());
    }
    long sizeBytes = 0;
    for (Mutation mutation : batch.mutations()) {
      int keySize = mutation.key().length;
      if (keySize == 0) {
        throw new IllegalArgumentException("group " + groupId + ": empty key");
      }
      if (keySize > options.keySizeBytesMax()) {
        throw store.limitExceeded("keySizeBytesMax", keySize, options.keySizeBytesMax());
      }
      sizeBytes += keySize;
      if (mutation instanceof Mutation.Put put) {
        if (put.value().length > options.valueSizeBytesMax()) {
          throw store.limitExceeded(
              "valueSizeBytesMax", put.value().length, options.valueSizeBytesMax());
        }
        sizeBytes += put.value().length;
      }
    }
    for (SessionRecord session : batch.sessions()) {
      sizeBytes += 16 + session.response().length;
    }
    if (sizeBytes > options.batchSizeBytesMax()) {
      throw store.limitExceeded("batchSizeBytesMax", sizeBytes, options.batchSizeBytesMax());
    }
  }

  private void checkAvailable() {
    if (needsSnapshot) {
      throw new PartitionUnavailableException(groupId, needsSnapshotReason);
    }
  }

  /** A consistent view for several reads; close it. */
  public PartitionReadView readView() {
    synchronized (this) {
      checkAvailable();
      return new PartitionReadView(store, groupId, applied.index());
    }
  }

  public Optional<StoredValue> get(byte[] userKey) {
    try (PartitionReadView view = readView()) {
      return view.get(userKey);
    }
  }

  public List<KeyValue> scan(ScanRange range, int limit) {
    try (PartitionReadView view = readView()) {
      return view.scan(range, limit);
    }
  }

  /** See {@link PartitionReadView#scan(ScanRange, int, long, int)}. */
  public List<KeyValue> scan(ScanRange range, int limit, long bytesMax, int pairOverheadBytes) {
    try (PartitionReadView view = readView()) {
      return view.scan(range, limit, bytesMax, pairOverheadBytes);
    }
  }

  public Optional<SessionRecord> session(long sessionId) {
    try (PartitionReadView view = readView()) {
      return view.session(sessionId);
    }
  }

  /**
   * Writes this partition's state as of its applied index into the empty (or new) directory {@code
   * directory}: SST file(s) plus a manifest with checksums.
   */
  public SnapshotFiles exportSnapshot(Path directory) {
    synchronized (this) {
      checkAvailable();
    }
    return PartitionSnapshots.export(store, groupId, directory);
  }

  /**
   * Replaces this partition's state with the snapshot in {@code directory}, after verifying its
   * checksums, and consumes the directory: it is deleted once the install is complete. The
   * directory must be on the store's disk (under the node's data directory) and stay there: the
   * install is marked durably first, naming it, and if the install is interrupted a reopened store
   * finishes it from those files. Only if they are gone or damaged then does the reopened store
   * report {@link #needsSnapshot()} instead of a half-installed state.
   *
   * @throws SnapshotRejectedException if the snapshot fails verification (old state and the
   *     directory kept)
   */
  public synchronized AppliedState installSnapshot(Path directory) {
    SnapshotFiles files = PartitionSnapshots.verify(directory, groupId);
    latest.clear();
    needsSnapshot = true;
    needsSnapshotReason = "a snapshot install from " + directory + " failed";
    PartitionSnapshots.install(store, groupId, files, changefeed);
    applied = files.appliedState();
    needsSnapshot = false;
    needsSnapshotReason = null;
    return applied;
  }

  /**
   * A deliberately broken install for the proof that a lost snapshot is caught (setting {@code
   * debug-move-skip-snapshot-data}, refused without allow-unsafe-debug): the applied state moves to
   * the snapshot's, the data does not arrive. The directory is consumed as by {@link
   * #installSnapshot}.
   */
  public synchronized AppliedState debugInstallSnapshotMetadataOnly(Path directory) {
    SnapshotFiles files = PartitionSnapshots.verify(directory, groupId);
    latest.clear();
    PartitionSnapshots.finishInstall(store, groupId, files.appliedState(), changefeed);
    PartitionSnapshots.deleteTree(files.directory());
    applied = files.appliedState();
    return applied;
  }
}
