package io.ringkv.storage;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ThreadFactory;

/**
 * Settings of one {@link StorageEngine}, built and validated eagerly by {@link Builder#build()}: a
 * bad value fails at start-up with a message naming the setting, not at the first write.
 *
 * <p>Limits carry their unit last. Relations between limits are checked once here: one key plus one
 * value must fit in a batch, and one committed batch must fit in the commit queue.
 */
public record StorageOptions(
    Path path,
    String clusterId,
    long nodeId,
    int keySizeBytesMax,
    int valueSizeBytesMax,
    int batchEntriesMax,
    long batchSizeBytesMax,
    int commitQueueWritesMax,
    int commitBatchWritesMax,
    Duration changefeedRetentionAge,
    long changefeedRetentionBytesMax,
    int logCacheEntriesMax,
    long logCacheSizeBytesMax,
    boolean verifyChecksumsOnOpen,
    boolean debugUnsyncedWrites,
    RaftLogEngine raftLogEngine,
    boolean raftLogEngineFollowsStore,
    Clock clock,
    ThreadFactory committerThreadFactory,
    MeterRegistry meterRegistry) {

  public static final int KEY_SIZE_BYTES_MAX_DEFAULT = 4 * 1024;
  public static final int VALUE_SIZE_BYTES_MAX_DEFAULT = 1024 * 1024;
  public static final int BATCH_ENTRIES_MAX_DEFAULT = 10_000;
  public static final long BATCH_SIZE_BYTES_MAX_DEFAULT = 64L * 1024 * 1024;
  public static final int COMMIT_QUEUE_WRITES_MAX_DEFAULT = 4096;
  public static final int COMMIT_BATCH_WRITES_MAX_DEFAULT = 1024;
  public static final Duration CHANGEFEED_RETENTION_AGE_DEFAULT = Duration.ofHours(24);
  public static final long CHANGEFEED_RETENTION_BYTES_MAX_DEFAULT = 256L * 1024 * 1024;

  /**
   * Recent entries kept in memory per group: covers a leader's in-flight window many times over, so
   * the Raft core's term and entry reads near the tail stay off RocksDB.
   */
  public static final int LOG_CACHE_ENTRIES_MAX_DEFAULT = 1024;

  /** Bytes of recent entries kept in memory per group (64 partitions: at most 64 MiB). */
  public static final long LOG_CACHE_SIZE_BYTES_MAX_DEFAULT = 1024L * 1024;

  /**
   * The engine existing stores were created with (the choice was recorded from the segmented log's
   * arrival on); the server's raft-log-engine setting picks its own default.
   */
  public static final RaftLogEngine RAFT_LOG_ENGINE_DEFAULT = RaftLogEngine.ROCKSDB;

  /** Where the segmented Raft log lives, when that engine is chosen: inside the store directory. */
  public java.nio.file.Path raftLogPath() {
    return path.resolve("raftlog");
  }

  public static Builder builder(Path path, String clusterId, long nodeId) {
    return new Builder(path, clusterId, nodeId);
  }

  /** Collects settings; every setter returns this builder; {@link #build()} validates them. */
  public static final class Builder {
    private final Path path;
    private final String clusterId;
    private final long nodeId;
    private int keySizeBytesMax = KEY_SIZE_BYTES_MAX_DEFAULT;
    private int valueSizeBytesMax = VALUE_SIZE_BYTES_MAX_DEFAULT;
    private int batchEntriesMax = BATCH_ENTRIES_MAX_DEFAULT;
    private long batchSizeBytesMax = BATCH_SIZE_BYTES_MAX_DEFAULT;
    private int commitQueueWritesMax = COMMIT_QUEUE_WRITES_MAX_DEFAULT;
    private int commitBatchWritesMax = COMMIT_BATCH_WRITES_MAX_DEFAULT;
    private Duration changefeedRetentionAge = CHANGEFEED_RETENTION_AGE_DEFAULT;
    private long changefeedRetentionBytesMax = CHANGEFEED_RETENTION_BYTES_MAX_DEFAULT;
    private int logCacheEntriesMax = LOG_CACHE_ENTRIES_MAX_DEFAULT;
    private long logCacheSizeBytesMax = LOG_CACHE_SIZE_BYTES_MAX_DEFAULT;
    private boolean verifyChecksumsOnOpen = true;
    private boolean debugUnsyncedWrites;
    private RaftLogEngine raftLogEngine = RAFT_LOG_ENGINE_DEFAULT;
    private boolean raftLogEngineFollowsStore;
    private Clock clock = Clock.systemUTC();
    private ThreadFactory committerThreadFactory =
        runnable -> {
          Thread thread = new Thread(runnable, "ringkv-storage-committer");
          thread.setDaemon(true);
          return thread;
        };
    private MeterRegistry meterRegistry = new SimpleMeterRegistry();

    private Builder(Path path, String clusterId, long nodeId) {
      this.path = path;
      this.clusterId = clusterId;
      this.nodeId = nodeId;
    }

    /** Largest user key, in bytes. */
    public Builder keySizeBytesMax(int value) {
      keySizeBytesMax = value;
      return this;
    }

    /** Largest user value, in bytes. */
    public Builder valueSizeBytesMax(int value) {
      valueSizeBytesMax = value;
      return this;
    }

    /** Most log entries in one log write, or mutations in one apply batch. */
    public Builder batchEntriesMax(int value) {
      batchEntriesMax = value;
      return this;
    }

    /** Most payload bytes in one log write or apply batch. */
    public Builder batchSizeBytesMax(long value) {
      batchSizeBytesMax = value;
      return this;
    }

    /** Most writes waiting for the group committer; more are rejected and counted. */
    public Builder commitQueueWritesMax(int value) {
      commitQueueWritesMax = value;
      return this;
    }

    /** Most writes coalesced into one RocksDB write and fsync. */
    public Builder commitBatchWritesMax(int value) {
      commitBatchWritesMax = value;
      return this;
    }

    /** Change records older than this are dropped by retention. */
    public Builder changefeedRetentionAge(Duration value) {
      changefeedRetentionAge = value;
      return this;
    }

    /** Change record bytes kept per partition; the oldest are dropped beyond it. */
    public Builder changefeedRetentionBytesMax(long value) {
      changefeedRetentionBytesMax = value;
      return this;
    }

    /**
     * Most recent log entries each group keeps in memory for reads; 0 turns the cache off (every
     * read goes to RocksDB).
     */
    public Builder logCacheEntriesMax(int value) {
      logCacheEntriesMax = value;
      return this;
    }

    /** Most bytes of recent log entries each group keeps in memory; 0 turns the cache off. */
    public Builder logCacheSizeBytesMax(long value) {
      logCacheSizeBytesMax = value;
      return this;
    }

    /**
     * Whether opening reads every SST file to verify its block checksums. Costs a full read of the
     * store at start-up (measured with a warm page cache on 2 cores: 300 MiB of SSTs opened in 276
     * ms instead of 97, 600 MiB in 383 instead of 103; cold, add reading those bytes from disk);
     * finds damage before any request does. Write-ahead logs are checked at every open anyway.
     */
    public Builder verifyChecksumsOnOpen(boolean value) {
      verifyChecksumsOnOpen = value;
      return this;
    }

    /**
     * UNSAFE, testing only: writes stay in RocksDB's WAL buffer inside the process, handed to the
     * operating system at most once a second (or when the buffer fills or a memtable is switched)
     * and never fsynced, while every write still reports itself durable. A process killed with
     * SIGKILL then loses up to a second of its latest writes, as a machine that loses power loses
     * what was never fsynced; it proves the crash-all nemesis catches acknowledged writes that are
     * not durable. The server allows it only with allow-unsafe-debug.
     */
    public Builder debugUnsyncedWrites(boolean value) {
      debugUnsyncedWrites = value;
      return this;
    }

    /**
     * Where Raft log entries and hard states live in a new store; an existing one keeps the engine
     * it was created with (see {@link #raftLogEngineFollowsStore}).
     */
    public Builder raftLogEngine(RaftLogEngine value) {
      raftLogEngine = value;
      return this;
    }

    /**
     * Whether an existing store created with the other engine opens with its own (the engine was
     * only a default) instead of being refused (it was asked for). A new store always takes {@link
     * #raftLogEngine}.
     */
    public Builder raftLogEngineFollowsStore(boolean value) {
      raftLogEngineFollowsStore = value;
      return this;
    }

    public Builder clock(Clock value) {
      clock = value;
      return this;
    }

    public Builder committerThreadFactory(ThreadFactory value) {
      committerThreadFactory = value;
      return this;
    }

    public Builder meterRegistry(MeterRegistry value) {
      meterRegistry = value;
      return this;
    }

    public StorageOptions build() {
      require(path != null, "path must be set");
      require(clusterId != null && !clusterId.isBlank(), "clusterId must not be blank");
      require(nodeId > 0, "nodeId must be > 0, got " + nodeId);
      positive("keySizeBytesMax", keySizeBytesMax);
      positive("valueSizeBytesMax", valueSizeBytesMax);
      positive("batchEntriesMax", batchEntriesMax);
      positive("batchSizeBytesMax", batchSizeBytesMax);
      positive("commitQueueWritesMax", commitQueueWritesMax);
      positive("commitBatchWritesMax", commitBatchWritesMax);
      positive("changefeedRetentionBytesMax", changefeedRetentionBytesMax);
      notNegative("logCacheEntriesMax", logCacheEntriesMax);
      notNegative("logCacheSizeBytesMax", logCacheSizeBytesMax);
      require(
          changefeedRetentionAge != null && changefeedRetentionAge.toMillis() > 0,
          "changefeedRetentionAge must be at least 1 ms, got " + changefeedRetentionAge);
      require(
          (long) keySizeBytesMax + valueSizeBytesMax <= batchSizeBytesMax,
          "keySizeBytesMax + valueSizeBytesMax ("
              + ((long) keySizeBytesMax + valueSizeBytesMax)
              + ") must not exceed batchSizeBytesMax ("
              + batchSizeBytesMax
              + ")");
      require(
          commitBatchWritesMax <= commitQueueWritesMax,
          "commitBatchWritesMax ("
              + commitBatchWritesMax
              + ") must not exceed commitQueueWritesMax ("
              + commitQueueWritesMax
              + ")");
      return new StorageOptions(
          path,
          clusterId,
          nodeId,
          keySizeBytesMax,
          valueSizeBytesMax,
          batchEntriesMax,
          batchSizeBytesMax,
          commitQueueWritesMax,
          commitBatchWritesMax,
          changefeedRetentionAge,
          changefeedRetentionBytesMax,
          logCacheEntriesMax,
          logCacheSizeBytesMax,
          verifyChecksumsOnOpen,
          debugUnsyncedWrites,
          Objects.requireNonNull(raftLogEngine, "raftLogEngine"),
          raftLogEngineFollowsStore,
          Objects.requireNonNull(clock, "clock"),
          Objects.requireNonNull(committerThreadFactory, "committerThreadFactory"),
          Objects.requireNonNull(meterRegistry, "meterRegistry"));
    }

    private static void positive(String name, long value) {
      require(value > 0, name + " must be > 0, got " + value);
    }

    private static void notNegative(String name, long value) {
      require(value >= 0, name + " must be >= 0, got " + value);
    }

    private static void require(boolean condition, String message) {
      if (!condition) {
        throw new IllegalArgumentException(message);
      }
    }
  }
}
