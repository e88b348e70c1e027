package io.ringkv.storage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.stream.Stream;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.ConfigOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.HistogramType;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.Statistics;
import org.rocksdb.StatsLevel;
import org.rocksdb.Status;
import org.rocksdb.WALRecoveryMode;
import org.rocksdb.WriteBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Opens a store directory without ever resetting it.
 *
 * <p>Only a missing or empty directory is created. A directory with files but no CURRENT file, a
 * CURRENT/MANIFEST/SST that RocksDB (with paranoid checks, and optionally a full checksum pass)
 * cannot read, or missing column families is reported as {@link CorruptStoreException}; a store of
 * another cluster or node as {@link ForeignStoreException}; a newer format as {@link
 * IncompatibleFormatException}. In every failing case the files stay byte-identical.
 */
final class StoreOpener {
  /**
   * 2: change records may carry a logical HLC counter (a flag bit and 4 bytes at the end), which
   * builds of version 1 cannot read. A version-1 store opens and is marked 2 from then on.
   */
  static final int FORMAT_VERSION = 2;

  /** Share of a memtable's write buffer given to its bloom filter, where one is used. */
  static final double MEMTABLE_BLOOM_SIZE_RATIO = 0.1;

  /**
   * The {@code data} family's memtable size. Every put inserts at a random place of its skiplist,
   * whose search costs a cache miss per step; a memtable of many versions of few keys is searched
   * far longer than one of RocksDB's default 64 MiB needs, and a flush keeps only the last version.
   */
  static final long DATA_WRITE_BUFFER_BYTES = 8L << 20;

  static final byte[] META_FORMAT_VERSION = "format_version".getBytes(StandardCharsets.UTF_8);
  static final byte[] META_CLUSTER_ID = "cluster_id".getBytes(StandardCharsets.UTF_8);
  static final byte[] META_NODE_ID = "node_id".getBytes(StandardCharsets.UTF_8);

  /** Absent in stores made before the segmented log: those keep entries in RocksDB. */
  static final byte[] META_RAFT_LOG_ENGINE = "raft_log_engine".getBytes(StandardCharsets.UTF_8);

  private static final Logger log = LoggerFactory.getLogger(StoreOpener.class);

  static {
    RocksDB.loadLibrary();
  }

  private StoreOpener() {}

  static Store open(StorageOptions options) {
    Path path = options.path();
    boolean fresh = isFresh(path);
    boolean needsIdentity = fresh;
    WALRecoveryMode recovery = WALRecoveryMode.AbsoluteConsistency;
    RaftLogEngine engine = options.raftLogEngine();
    if (fresh) {
      try {
        Files.createDirectories(path);
      } catch (IOException e) {
        throw new StorageException("cannot create store directory " + path, e);
      }
    } else {
      checkExistingFamilies(path);
      Inspection inspection = inspect(options);
      needsIdentity = inspection.needsIdentity();
      recovery = inspection.recovery();
      engine = inspection.raftLogEngine();
    }
    Store store = openDb(options, null, recovery, fresh);
    try {
      store.raftLogEngine = engine;
      if (needsIdentity) {
        writeIdentity(store);
      }
      return store;
    } catch (RuntimeException e) {
      store.close();
      throw e;
    }
  }

  /**
   * What the read-only inspection found: whether only the identity is missing, and the WAL recovery
   * mode the real open must use (absolute consistency, or tolerating the torn tail the inspection
   * found and logged).
   */
  private record Inspection(
      boolean needsIdentity, WALRecoveryMode recovery, RaftLogEngine raftLogEngine) {}

  /**
   * Checks an existing store read-only (no new MANIFEST, OPTIONS or LOG file): WAL replay,
   * checksums and identity.
   */
  private static Inspection inspect(StorageOptions options) {
    RocksLogBridge logger = new RocksLogBridge();
    try (Store store = openDb(options, logger, WALRecoveryMode.AbsoluteConsistency, false)) {
      return check(store, options, WALRecoveryMode.AbsoluteConsistency);
    } catch (CorruptStoreException e) {
      WalDamage damage =
          WalDamage.fromReports(options.path(), logger.warnings()).orElseThrow(() -> e);
      if (!damage.tornTail()) {
        throw new CorruptStoreException(options.path(), refusal(damage), e);
      }
      return inspectWithoutTornTail(options, damage);
    }
  }

  /** Opens again tolerating only a cut-off tail, so any other damage still refuses the open. */
  private static Inspection inspectWithoutTornTail(StorageOptions options, WalDamage damage) {
    WALRecoveryMode recovery = WALRecoveryMode.TolerateCorruptedTailRecords;
    Store store;
    try {
      store = openDb(options, new RocksLogBridge(), recovery, false);
    } catch (CorruptStoreException beyondTail) {
      throw new CorruptStoreException(
          options.path(),
          refusal(damage) + "; and beyond that tail: " + beyondTail.getMessage(),
          beyondTail);
    }
    try (store) {
      Inspection inspection = check(store, options, recovery);
      log.warn(
          "store {}: {}: the last record of the newest log was cut off by a crash during its"
              + " write (so never acknowledged); it is dropped",
          options.path(),
          damage.describe());
      return inspection;
    }
  }

  private static Inspection check(Store store, StorageOptions options, WALRecoveryMode recovery) {
    if (options.verifyChecksumsOnOpen()) {
      verifyChecksums(store);
    }
    boolean needsIdentity = checkIdentity(store);
    return new Inspection(needsIdentity, recovery, raftLogEngine(store));
  }

  private static String refusal(WalDamage damage) {
    return damage.describe()
        + ": replaying only the records before it would silently lose durable Raft state (log"
        + " entries, votes), so the store is not opened; restore this node's data directory or"
        + " rebuild the node from its peers";
  }

  /**
   * Opens the database; {@code inspectionLogger} non-null opens it read-only with RocksDB's log
   * sent there instead of a LOG file.
   */
  private static Store openDb(
      StorageOptions options,
      RocksLogBridge inspectionLogger,
      WALRecoveryMode recovery,
      boolean fresh) {
    boolean readOnly = inspectionLogger != null;
    Path path = options.path();
    List<AutoCloseable> resources = new ArrayList<>();
    ColumnFamilyOptions familyOptions = groupOrderedFamilyOptions();
    resources.add(familyOptions);
    ColumnFamilyOptions dataOptions = dataFamilyOptions();
    resources.add(dataOptions);
    DBOptions dbOptions =
        new DBOptions()
            .setCreateIfMissing(fresh)
            .setCreateMissingColumnFamilies(fresh)
            .setErrorIfExists(fresh)
            .setParanoidChecks(true)
            .setWalRecoveryMode(recovery)
            .setMaxOpenFiles(-1)
            // The planted durability bug: the WAL stays in RocksDB's buffer, in this process.
            .setManualWalFlush(options.debugUnsyncedWrites());
    resources.add(dbOptions);
    Statistics statistics = null;
    if (readOnly) {
      resources.add(inspectionLogger);
      dbOptions.setLogger(inspectionLogger);
    } else {
      // Tickers only (every histogram ignored): enough to count real WAL syncs, cheaply.
      statistics = new Statistics(EnumSet.allOf(HistogramType.class));
      statistics.setStatsLevel(StatsLevel.EXCEPT_DETAILED_TIMERS);
      resources.add(statistics);
      dbOptions.setStatistics(statistics);
    }
    List<ColumnFamilyDescriptor> descriptors = new ArrayList<>();
    for (String name : Store.COLUMN_FAMILIES) {
      descriptors.add(
          new ColumnFamilyDescriptor(
              name.getBytes(StandardCharsets.UTF_8),
              name.equals(Store.CF_DATA) ? dataOptions : familyOptions));
    }
    descriptors.add(new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, familyOptions));
    List<ColumnFamilyHandle> handles = new ArrayList<>();
    try {
      RocksDB db =
          readOnly
              ? RocksDB.openReadOnly(dbOptions, path.toString(), descriptors, handles)
              : RocksDB.open(dbOptions, path.toString(), descriptors, handles);
      return new Store(options, db, handles, resources, statistics);
    } catch (RocksDBException e) {
      closeAll(resources);
      throw translate(path, "cannot open", e);
    }
  }

  /**
   * The families whose writes come in key order within each group (Raft log entries, change
   * records, Raft and applied state: the group id, then an index, revision or tag): a memtable
   * insert starts from where the last insert of the same group went (an insert hint per 8-byte
   * group prefix) instead of searching the whole skiplist, as it must when the groups' writes
   * interleave. Memory only; nothing on disk changes.
   */
  static ColumnFamilyOptions groupOrderedFamilyOptions() {
    Properties properties = new Properties();
    properties.setProperty(
        "memtable_insert_with_hint_prefix_extractor", "rocksdb.FixedPrefix." + Long.BYTES);
    try (ConfigOptions config = new ConfigOptions().setIgnoreUnknownOptions(false)) {
      ColumnFamilyOptions options =
          ColumnFamilyOptions.getColumnFamilyOptionsFromProps(config, properties);
      if (options == null) {
        throw new StorageException("RocksDB did not take the memtable insert hint option", null);
      }
      return options;
    }
  }

  /**
   * The {@code data} family: the only one read by point gets on the hot path (applying a put first
   * gets the key's previous version, and most of those keys are not in the active memtable), so a
   * whole-key bloom filter in the memtable answers "not here" without a skiplist search. Memory
   * only (10 % of the write buffer); nothing on disk changes, and iterators do not use it.
   */
  static ColumnFamilyOptions dataFamilyOptions() {
    return new ColumnFamilyOptions()
        .setWriteBufferSize(DATA_WRITE_BUFFER_BYTES)
        .setMemtableWholeKeyFiltering(true)
        .setMemtablePrefixBloomSizeRatio(MEMTABLE_BLOOM_SIZE_RATIO);
  }

  private static boolean isFresh(Path path) {
    if (!Files.exists(path)) {
      return true;
    }
    if (!Files.isDirectory(path)) {
      throw new CorruptStoreException(path, "not a directory", null);
    }
    try (Stream<Path> files = Files.list(path)) {
      if (files.findAny().isEmpty()) {
        return true;
      }
    } catch (IOException e) {
      throw new StorageException("cannot list " + path, e);
    }
    if (!Files.exists(path.resolve("CURRENT"))) {
      throw new CorruptStoreException(
          path, "directory holds files but no CURRENT file, so no valid store", null);
    }
    return false;
  }

  private static void checkExistingFamilies(Path path) {
    Set<String> found = new HashSet<>();
    try (Options listOptions = new Options().setParanoidChecks(true)) {
      for (byte[] name : RocksDB.listColumnFamilies(listOptions, path.toString())) {
        found.add(new String(name, StandardCharsets.UTF_8));
      }
    } catch (RocksDBException e) {
      throw translate(path, "cannot read the column family list", e);
    }
    for (String name : Store.COLUMN_FAMILIES) {
      if (!found.contains(name)) {
        throw new CorruptStoreException(path, "column family '" + name + "' is missing", null);
      }
    }
  }

  private static void verifyChecksums(Store store) {
    try {
      store.db.verifyChecksum();
    } catch (RocksDBException e) {
      throw translate(store.path, "checksum verification failed", e);
    }
  }

  private static StorageException translate(Path path, String what, RocksDBException e) {
    Status status = e.getStatus();
    Status.Code code = status == null ? null : status.getCode();
    boolean damaged =
        code == Status.Code.Corruption
            || code == Status.Code.NotFound
            || code == Status.Code.InvalidArgument
            || code == Status.Code.IOError && !String.valueOf(e.getMessage()).contains("lock");
    if (damaged) {
      return new CorruptStoreException(path, what + ": " + e.getMessage(), e);
    }
    return new StorageException("store at " + path + ": " + what + ": " + e.getMessage(), e);
  }

  /** Returns true when the identity is missing from a store that holds nothing at all. */
  private static boolean checkIdentity(Store store) {
    StorageOptions options = store.options;
    byte[] versionValue = store.get(store.meta, META_FORMAT_VERSION);
    if (versionValue == null) {
      if (!isUnused(store)) {
        throw new CorruptStoreException(store.path, "store identity (meta) is missing", null);
      }
      // Creation stopped before the identity was written: the store holds no data, so writing the
      // identity now loses nothing.
      return true;
    }
    int version = decodeInt(store, META_FORMAT_VERSION, versionValue);
    if (version > FORMAT_VERSION) {
      throw new IncompatibleFormatException(store.path, version, FORMAT_VERSION);
    }
    String clusterId = new String(metaValue(store, META_CLUSTER_ID), StandardCharsets.UTF_8);
    if (!clusterId.equals(options.clusterId())) {
      throw new ForeignStoreException(
          store.path, "cluster id is '" + clusterId + "', expected '" + options.clusterId() + "'");
    }
    long nodeId = ByteBuffer.wrap(metaValue(store, META_NODE_ID)).getLong();
    if (nodeId != options.nodeId()) {
      throw new ForeignStoreException(
          store.path, "node id is " + nodeId + ", expected " + options.nodeId());
    }
    if (version < FORMAT_VERSION) {
      // Its records all read as they are; the identity is rewritten with the new version so an
      // older build refuses the store once it may hold records of the new format.
      log.info("store {}: format version {} is marked {}", store.path, version, FORMAT_VERSION);
      return true;
    }
    return false;
  }

  /**
   * The engine the store's entries live in: opened with the other one, every group would start with
   * an empty log (and acknowledged writes would be lost). So an existing store keeps its engine:
   * followed when the setting was left at its default, refused when it was set to the other one. A
   * store that holds nothing yet takes the configured engine.
   */
  private static RaftLogEngine raftLogEngine(Store store) {
    if (store.get(store.meta, META_FORMAT_VERSION) == null) {
      return store.options.raftLogEngine();
    }
    byte[] value = store.get(store.meta, META_RAFT_LOG_ENGINE);
    RaftLogEngine recorded =
        value == null
            ? RaftLogEngine.ROCKSDB
            : RaftLogEngine.parse(
                new String(metaValue(store, META_RAFT_LOG_ENGINE), StandardCharsets.UTF_8));
    RaftLogEngine wanted = store.options.raftLogEngine();
    if (recorded != wanted && store.options.raftLogEngineFollowsStore()) {
      log.info(
          "store {} keeps its Raft logs in the {} engine (chosen when it was created); it stays"
              + " there, as raft-log-engine was not set",
          store.path,
          recorded.settingValue());
    } else if (recorded != wanted) {
      throw new StorageException(
          "store at "
              + store.path
              + " keeps its Raft logs in the "
              + recorded.settingValue()
              + " engine, but this node is set to raft-log-engine="
              + wanted.settingValue()
              + ": set raft-log-engine="
              + recorded.settingValue()
              + ", or start this node from an empty data directory (it then catches up from its"
              + " peers)");
    }
    return recorded;
  }

  private static boolean isUnused(Store store) {
    boolean[] empty = {true};
    for (ColumnFamilyHandle family :
        List.of(store.raftLog, store.raftState, store.data, store.changes, store.meta)) {
      store.scan(family, null, new byte[0], null, (key, value) -> empty[0] = false);
    }
    return empty[0];
  }

  private static void writeIdentity(Store store) {
    try (WriteBatch batch = new WriteBatch()) {
      batch.put(
          store.meta,
          META_FORMAT_VERSION,
          Codec.seal(META_FORMAT_VERSION, ByteBuffer.allocate(4).putInt(FORMAT_VERSION)));
      byte[] cluster = store.options.clusterId().getBytes(StandardCharsets.UTF_8);
      batch.put(
          store.meta,
          META_CLUSTER_ID,
          Codec.seal(META_CLUSTER_ID, ByteBuffer.allocate(cluster.length).put(cluster)));
      batch.put(
          store.meta,
          META_NODE_ID,
          Codec.seal(META_NODE_ID, ByteBuffer.allocate(8).putLong(store.options.nodeId())));
      byte[] engine = store.raftLogEngine.settingValue().getBytes(StandardCharsets.UTF_8);
      batch.put(
          store.meta,
          META_RAFT_LOG_ENGINE,
          Codec.seal(META_RAFT_LOG_ENGINE, ByteBuffer.allocate(engine.length).put(engine)));
      store.write(batch, true);
    } catch (RocksDBException e) {
      throw store.failure("write identity", e);
    }
  }

  private static int decodeInt(Store store, byte[] key, byte[] value) {
    try {
      return Codec.decode(key, value, "meta", ByteBuffer::getInt);
    } catch (CorruptDataException e) {
      throw new CorruptStoreException(store.path, e.getMessage(), e);
    }
  }

  private static byte[] metaValue(Store store, byte[] key) {
    byte[] value = store.get(store.meta, key);
    String name = new String(key, StandardCharsets.UTF_8);
    if (value == null) {
      throw new CorruptStoreException(store.path, "meta record '" + name + "' is missing", null);
    }
    try {
      ByteBuffer payload = Codec.open(key, value, "meta " + name);
      byte[] bytes = new byte[payload.remaining()];
      payload.get(bytes);
      return bytes;
    } catch (CorruptDataException e) {
      throw new CorruptStoreException(store.path, e.getMessage(), e);
    }
  }

  private static void closeAll(List<AutoCloseable> resources) {
    for (AutoCloseable resource : resources.reversed()) {
      try {
        resource.close();
      } catch (Exception ignored) {
        // Already failing to open; the open failure is the error worth reporting.
      }
    }
  }
}
