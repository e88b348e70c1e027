package io.ringkv.server;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.ringkv.proto.v1.ErrorDetail;
import io.ringkv.raft.Invariants;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The per-node disk quota (setting {@code disk-quota-bytes}): past it, client writes that add data
 * (Put, and Txn with a Put) are refused with RESOURCE_EXHAUSTED, while reads and deletes still
 * work, so an operator can make room without a restart.
 *
 * <p>Design notes. Usage is the size of every file under the node's data directory (RocksDB SSTs,
 * WAL and logs, the Raft log, snapshot scratch): what the disk really holds for the node, measured
 * by one directory walk every {@link #CHECK_INTERVAL_MILLIS} on a thread of its own (a data
 * directory holds hundreds of files, not millions). Only the KV service's entry consults the
 * result, on the node that receives the request and again on the leader it is forwarded to; Raft
 * replication, applies, snapshots and the meta group never do, since refusing those would stop a
 * partition rather than one client. While over the quota, and only after clients deleted something,
 * the node asks its store for a full compaction, at most every {@link #COMPACTION_INTERVAL_MILLIS}
 * and for {@link #COMPACTION_AFTER_DELETE_MILLIS_MAX} after the last delete, so deleted data leaves
 * the disk without an operator; the refusal lifts at the first measurement back under the quota.
 * Deleted values also live on in the changefeed until its retention drops them, and in the Raft log
 * until it is compacted: those bound how soon space comes back.
 */
final class DiskQuota implements AutoCloseable {
  /** How often the data directory is measured. */
  static final long CHECK_INTERVAL_MILLIS = 1_000;

  /** Least time between two compactions the quota asks for. */
  static final long COMPACTION_INTERVAL_MILLIS = 10_000;

  /**
   * How long after the last client delete the quota keeps compacting while over: deleted values
   * leave the changefeed and the Raft log only after retention and log compaction, which may take a
   * few rounds.
   */
  static final long COMPACTION_AFTER_DELETE_MILLIS_MAX = 60_000;

  static final String SETTING_NAME = "disk-quota-bytes";

  private static final Logger log = LoggerFactory.getLogger(DiskQuota.class);

  private final long nodeId;
  private final long quotaBytes;
  private final Path dataDir;
  private final Runnable compaction;
  private final LongSupplier nanoClock;
  private final AtomicLong usedBytes = new AtomicLong();
  private final Counter refusedWrites;
  private final ScheduledExecutorService scheduler;
  private volatile boolean over;

  /** When a client delete was last accepted (nano clock), or {@link Long#MIN_VALUE}: never. */
  private volatile long lastDeleteNanos = Long.MIN_VALUE;

  private long lastCompactionNanos;
  private boolean compacted;

  /**
   * @param quotaBytes 0 = no quota (nothing is measured or refused)
   * @param compaction compacts the node's store so deleted data leaves the disk
   */
  DiskQuota(
      long nodeId,
      long quotaBytes,
      Path dataDir,
      Runnable compaction,
      LongSupplier nanoClock,
      MeterRegistry registry) {
    Invariants.check(quotaBytes >= 0, "disk quota must be >= 0");
    this.nodeId = nodeId;
    this.quotaBytes = quotaBytes;
    this.dataDir = dataDir;
    this.compaction = compaction;
    this.nanoClock = nanoClock;
    Gauge.builder("ringkv.disk.used.bytes", usedBytes, AtomicLong::get)
        .description("Bytes under the node's data directory, as last measured for the disk quota")
        .register(registry);
    Gauge.builder("ringkv.disk.quota.bytes", () -> quotaBytes)
        .description("The node's disk quota (disk-quota-bytes; 0 = off)")
        .register(registry);
    Gauge.builder("ringkv.disk.quota.exceeded", () -> over ? 1 : 0)
        .description("1 while the node is over its disk quota and refuses writes")
        .register(registry);
    this.refusedWrites =
        Counter.builder("ringkv.disk.quota.refused.writes")
            .description("Client writes refused because the node was over its disk quota")
            .register(registry);
    this.scheduler =
        quotaBytes == 0
            ? null
            : Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().name("ringkv-disk-quota").daemon().factory());
  }

  /** Starts measuring every {@link #CHECK_INTERVAL_MILLIS} (the first time at once). */
  DiskQuota start() {
    if (scheduler != null) {
      scheduler.scheduleWithFixedDelay(
          this::checkOnce, 0, CHECK_INTERVAL_MILLIS, TimeUnit.MILLISECONDS);
    }
    return this;
  }

  /** One measurement; on the quota's thread. */
  void checkOnce() {
    try {
      long used = sizeOf(dataDir);
      usedBytes.set(used);
      boolean nowOver = used > quotaBytes;
      if (nowOver != over) {
        log.warn(
            "node {}: {} {} bytes (disk-quota-bytes {}): writes {}",
            nodeId,
            nowOver ? "data directory grew past its quota," : "data directory back under quota,",
            used,
            quotaBytes,
            nowOver ? "refused until deletes free space" : "accepted again");
      }
      over = nowOver;
      if (nowOver) {
        compactAtMostEveryInterval();
      }
    } catch (RuntimeException e) {
      // A failed measurement keeps the last verdict; the next one tries again.
      log.warn("node {}: disk quota measurement failed", nodeId, e);
    }
  }

  private void compactAtMostEveryInterval() {
    long now = nanoClock.getAsLong();
    if (compacted
        && now - lastCompactionNanos < TimeUnit.MILLISECONDS.toNanos(COMPACTION_INTERVAL_MILLIS)) {
      return;
    }
    long deleted = lastDeleteNanos;
    if (deleted == Long.MIN_VALUE
        || now - deleted > TimeUnit.MILLISECONDS.toNanos(COMPACTION_AFTER_DELETE_MILLIS_MAX)) {
      return; // nothing deleted lately: a compaction would only rewrite live data
    }
    compacted = true;
    lastCompactionNanos = now;
    compaction.run();
    log.info(
        "node {}: over disk quota after deletes, compacted the store in {} ms",
        nodeId,
        TimeUnit.NANOSECONDS.toMillis(nanoClock.getAsLong() - now));
  }

  /** A client delete (or a Txn with one) was accepted: compactions may free space for a while. */
  void noteDelete() {
    if (quotaBytes > 0) {
      lastDeleteNanos = nanoClock.getAsLong();
    }
  }

  /**
   * Refuses a write that adds data while the node is over its quota.
   *
   * @throws StatusRuntimeException RESOURCE_EXHAUSTED naming the node and the quota
   */
  void checkWrite() {
    if (!over) {
      return;
    }
    refusedWrites.increment();
    throw KvErrors.of(
        Status.Code.RESOURCE_EXHAUSTED,
        "node "
            + nodeId
            + " is over its disk quota ("
            + SETTING_NAME
            + " "
            + quotaBytes
            + ", its data directory holds "
            + usedBytes.get()
            + " bytes): writes are refused until deletes free space; reads and deletes work",
        ErrorDetail.newBuilder()
            .setReason(ErrorDetail.Reason.LIMIT_EXCEEDED)
            .setLimitName(SETTING_NAME)
            .setLimitValue(quotaBytes)
            .build());
  }

  /**
   * Total size of the regular files under {@code directory}; files that vanish meanwhile count 0.
   */
  static long sizeOf(Path directory) {
    long[] total = {0};
    try {
      Files.walkFileTree(
          directory,
          new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attributes) {
              if (attributes.isRegularFile()) {
                total[0] += attributes.size();
              }
              return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
              if (e instanceof NoSuchFileException) {
                return FileVisitResult.CONTINUE; // deleted by compaction while we walked
              }
              throw e;
            }
          });
    } catch (IOException e) {
      throw new UncheckedIOException("cannot measure " + directory, e);
    }
    return total[0];
  }

  @Override
  public void close() throws InterruptedException {
    if (scheduler != null) {
      scheduler.shutdownNow();
      scheduler.awaitTermination(10, TimeUnit.SECONDS);
    }
  }
}
