package io.ringkv.client.backup;

import io.ringkv.client.Entry;
import io.ringkv.client.RingKvClient;
import io.ringkv.client.ScanQuery;
import io.ringkv.proto.v1.BackupManifest;
import io.ringkv.proto.v1.BackupPartitionFile;
import io.ringkv.proto.v1.KeyValue;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import java.util.stream.Stream;

/**
 * Restores a backup into a cluster through the ordinary write path (Puts), so the target may have
 * any number of nodes and any partition count; keys get new revisions there (a pair's create/mod
 * revision and version restart), values are the backup's.
 *
 * <p>What it guarantees: nothing is written unless the whole backup verified (every file present,
 * of its size and SHA-256, every pair well formed), and nothing is written into a cluster that
 * holds any key. If the restore itself is interrupted (a node fails for longer than the client's
 * retries, the process is killed), the cluster holds part of the backup and the next restore
 * refuses it as non-empty: start a fresh cluster and restore again. Each key is written by one
 * blind Put, so a Put that is retried after an unknown outcome still leaves the backup's value.
 */
public final class Restorer {
  /** Puts in flight at once: enough to hide round trips, few enough to leave the cluster room. */
  static final int WRITES_IN_FLIGHT_MAX = 64;

  /** How long the restore waits for its last writes when it stops after a failure. */
  static final long DRAIN_SECONDS_MAX = 60;

  /** What a finished restore wrote. */
  public record Summary(long keyCount, long elapsedMillis) {}

  private final RingKvClient client;
  private final Path directory;
  private final LongSupplier nanoClock;
  private final Consumer<String> progress;

  public Restorer(
      RingKvClient client, Path directory, LongSupplier nanoClock, Consumer<String> progress) {
    this.client = client;
    this.directory = directory;
    this.nanoClock = nanoClock;
    this.progress = progress;
  }

  /**
   * Verifies the backup, checks the cluster is empty, then writes every pair.
   *
   * @throws BackupException naming the file when the backup is damaged or incomplete (nothing
   *     written), when the cluster is not empty (nothing written), or when a write failed (the
   *     cluster holds part of the backup)
   */
  public Summary run() throws InterruptedException {
    long startNanos = nanoClock.getAsLong();
    BackupManifest manifest = BackupDirectory.verify(directory);
    progress.accept(
        "backup of cluster '"
            + manifest.getClusterId()
            + "' verified: "
            + manifest.getPartitionCount()
            + " partition files");
    checkEmpty();
    Semaphore window = new Semaphore(WRITES_IN_FLIGHT_MAX);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicLong written = new AtomicLong();
    long total = 0;
    for (BackupPartitionFile file : manifest.getPartitionsList()) {
      total += file.getKeyCount();
    }
    for (BackupPartitionFile file : manifest.getPartitionsList()) {
      BackupDirectory.forEachPair(directory, file, pair -> put(pair, window, failure, written));
      if (failure.get() != null) {
        break;
      }
    }
    if (!window.tryAcquire(WRITES_IN_FLIGHT_MAX, DRAIN_SECONDS_MAX, TimeUnit.SECONDS)) {
      throw new BackupException(
          "restore interrupted: writes still unanswered after "
              + DRAIN_SECONDS_MAX
              + " s; "
              + interruptedAdvice(written.get(), total));
    }
    if (failure.get() != null) {
      throw new BackupException(
          "restore interrupted by a failed write ("
              + failure.get().getMessage()
              + "); "
              + interruptedAdvice(written.get(), total),
          failure.get());
    }
    return new Summary(
        written.get(), TimeUnit.NANOSECONDS.toMillis(nanoClock.getAsLong() - startNanos));
  }

  private static String interruptedAdvice(long written, long total) {
    return written
        + " of "
        + total
        + " keys were written: the cluster holds part of the backup; restore again into a fresh"
        + " (empty) cluster";
  }

  private void checkEmpty() {
    Optional<Entry> any;
    try (Stream<Entry> keys =
        client.blocking().scan(ScanQuery.prefix(new byte[0]).withPageSize(1))) {
      any = keys.findFirst();
    }
    if (any.isPresent()) {
      throw new BackupException(
          "the target cluster is not empty (it holds key '"
              + any.get().keyUtf8()
              + "'): restore only into a fresh cluster");
    }
  }

  private void put(
      KeyValue pair, Semaphore window, AtomicReference<Throwable> failure, AtomicLong written) {
    if (failure.get() != null) {
      return;
    }
    try {
      window.acquire();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      failure.compareAndSet(null, e);
      return;
    }
    client
        .put(pair.getKey().toByteArray(), pair.getValue().toByteArray())
        .whenComplete((result, error) -> {
          if (error != null) {
            failure.compareAndSet(null, error);
          } else {
            written.incrementAndGet();
          }
          window.release();
        });
  }
}
