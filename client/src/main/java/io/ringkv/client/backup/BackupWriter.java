package io.ringkv.client.backup;

import io.grpc.CallOptions;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import io.ringkv.client.BlockingRingKvClient;
import io.ringkv.client.RingKvClient;
import io.ringkv.proto.v1.BackupGrpc;
import io.ringkv.proto.v1.BackupManifest;
import io.ringkv.proto.v1.BackupPartitionFile;
import io.ringkv.proto.v1.ExportHeader;
import io.ringkv.proto.v1.ExportPartitionRequest;
import io.ringkv.proto.v1.ExportPartitionResponse;
import io.ringkv.proto.v1.KeyValue;
import io.ringkv.proto.v1.Member;
import io.ringkv.proto.v1.PartitionInfo;
import io.ringkv.proto.v1.PartitionsResponse;
import io.ringkv.proto.v1.StatusResponse;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * Writes an online backup: for each partition in turn, asks a replica (the leader first) for an
 * export at one linearizable point and writes it to its file; then the manifest. An export that
 * fails (leader change, node down) is redone from the start on another replica, up to {@link
 * #ATTEMPTS_PER_PARTITION_MAX} times. Reading is paced to {@code bytesPerSecondMax}; the node sends
 * only as fast as this reads, so the pace bounds the load the backup puts on the cluster.
 */
public final class BackupWriter {
  /** Attempts to export one partition before the backup fails. */
  static final int ATTEMPTS_PER_PARTITION_MAX = 8;

  /** Pause before attempt n is n times this, at most {@link #RETRY_PAUSE_MILLIS_MAX}. */
  static final long RETRY_PAUSE_MILLIS_STEP = 250;

  static final long RETRY_PAUSE_MILLIS_MAX = 2_000;

  /** Deadline of one partition's export stream: a bound, far above any sane partition's time. */
  static final long PARTITION_EXPORT_MILLIS_MAX = TimeUnit.HOURS.toMillis(6);

  /**
   * Longest wait for the next message of an export before it is given up and started again
   * elsewhere: well above the node's read barrier (10 s) and one batch at any sane pace, so only a
   * node that died without closing the connection (a crash the transport did not see, a host or
   * network gone) hits it; without it such an export would wait for its 6-hour deadline.
   */
  static final long EXPORT_IDLE_MILLIS_MAX = 30_000;

  /**
   * Cancels exports that received nothing for {@link #EXPORT_IDLE_MILLIS_MAX}. One watch is
   * scheduled per message and cancelled when the next arrives; cancelled watches leave the queue at
   * once, so it holds one per export in flight, not one per message of the last 30 s.
   */
  private static final ScheduledExecutorService IDLE_WATCH = idleWatch();

  private static ScheduledExecutorService idleWatch() {
    ScheduledThreadPoolExecutor watch =
        new ScheduledThreadPoolExecutor(
            1, Thread.ofPlatform().name("ringctl-export-idle-watch").daemon().factory());
    watch.setRemoveOnCancelPolicy(true);
    return watch;
  }

  /** What a finished backup holds. */
  public record Summary(
      String clusterId, int partitionCount, long keyCount, long bytes, long elapsedMillis) {}

  private final RingKvClient client;
  private final Path directory;
  private final long bytesPerSecondMax;
  private final LongSupplier nanoClock;
  private final Consumer<String> progress;

  /**
   * @param bytesPerSecondMax pace of reading exports; 0 = unpaced
   * @param nanoClock monotonic clock of the pacing
   * @param progress receives one line per finished partition
   */
  public BackupWriter(
      RingKvClient client,
      Path directory,
      long bytesPerSecondMax,
      LongSupplier nanoClock,
      Consumer<String> progress) {
    if (bytesPerSecondMax < 0) {
      throw new IllegalArgumentException(
          "--bytes-per-second-max must be >= 0, got " + bytesPerSecondMax);
    }
    this.client = client;
    this.directory = directory;
    this.bytesPerSecondMax = bytesPerSecondMax;
    this.nanoClock = nanoClock;
    this.progress = progress;
  }

  /**
   * Writes the backup into {@code directory}, which must be missing or empty.
   *
   * @throws BackupException when a partition cannot be exported or a file cannot be written; the
   *     directory then has no manifest, and restore refuses it
   */
  public Summary run() throws InterruptedException {
    long startNanos = nanoClock.getAsLong();
    prepareDirectory();
    StatusResponse status = BlockingRingKvClient.await(client.cluster().status());
    int partitionCount = status.getPartitionCount();
    Pacer pacer = new Pacer(bytesPerSecondMax, nanoClock);
    BackupManifest.Builder manifest =
        BackupManifest.newBuilder()
            .setFormat(BackupDirectory.FORMAT)
            .setClusterId(status.getClusterId())
            .setPartitionCount(partitionCount)
            .setCreatedUnixMillis(System.currentTimeMillis());
    long keys = 0;
    long bytes = 0;
    for (int partition = 0; partition < partitionCount; partition++) {
      BackupPartitionFile file = exportWithRetries(partition, partitionCount, pacer);
      manifest.addPartitions(file);
      keys += file.getKeyCount();
      bytes += file.getSizeBytes();
      progress.accept(
          "partition "
              + partition
              + ": "
              + file.getKeyCount()
              + " keys at index "
              + file.getAppliedIndex()
              + " from node "
              + file.getNodeId());
    }
    try {
      BackupDirectory.writeManifest(directory, manifest.build());
    } catch (IOException e) {
      throw new BackupException("cannot write the manifest in " + directory + ": " + e, e);
    }
    return new Summary(
        status.getClusterId(),
        partitionCount,
        keys,
        bytes,
        TimeUnit.NANOSECONDS.toMillis(nanoClock.getAsLong() - startNanos));
  }

  private void prepareDirectory() {
    try {
      Files.createDirectories(directory);
      try (var entries = Files.list(directory)) {
        if (entries.findAny().isPresent()) {
          throw new BackupException(
              "backup directory " + directory + " is not empty: choose a new one");
        }
      }
    } catch (IOException e) {
      throw new BackupException("cannot create backup directory " + directory + ": " + e, e);
    }
  }

  private BackupPartitionFile exportWithRetries(int partition, int partitionCount, Pacer pacer)
      throws InterruptedException {
    RuntimeException last = null;
    Set<String> failed = new HashSet<>();
    for (int attempt = 0; attempt < ATTEMPTS_PER_PARTITION_MAX; attempt++) {
      if (attempt > 0) {
        TimeUnit.MILLISECONDS.sleep(
            Math.min(RETRY_PAUSE_MILLIS_MAX, attempt * RETRY_PAUSE_MILLIS_STEP));
      }
      String address;
      try {
        address = replicaAddress(partition, attempt, failed);
      } catch (RuntimeException e) {
        last = e;
        continue;
      }
      try {
        return exportOnce(partition, partitionCount, address, pacer);
      } catch (StatusRuntimeException e) {
        if (!retryable(e.getStatus().getCode())) {
          throw new BackupException(
              "partition " + partition + ": export from " + address + " failed: " + e.getStatus(),
              e);
        }
        last = e;
        failed.add(address);
        if (attempt + 1 == ATTEMPTS_PER_PARTITION_MAX) {
          break; // the failure below says so
        }
        progress.accept(
            "partition "
                + partition
                + ": export from "
                + address
                + " failed ("
                + e.getStatus().getCode()
                + ": "
                + e.getStatus().getDescription()
                + "); starting it again, attempt "
                + (attempt + 2)
                + " of "
                + ATTEMPTS_PER_PARTITION_MAX);
      }
    }
    throw new BackupException(
        "partition "
            + partition
            + ": no export succeeded in "
            + ATTEMPTS_PER_PARTITION_MAX
            + " attempts; last: "
            + last,
        last);
  }

  private static boolean retryable(Status.Code code) {
    return code == Status.Code.UNAVAILABLE
        || code == Status.Code.DEADLINE_EXCEEDED
        || code == Status.Code.RESOURCE_EXHAUSTED
        || code == Status.Code.CANCELLED
        || code == Status.Code.ABORTED;
  }

  /**
   * The client address of a replica of {@code partition}: the leader first, then the others, but
   * not one whose export already failed while another is left (the map may still name a node that
   * died as its leader for a moment); when every replica failed once, they are asked in turn.
   */
  private String replicaAddress(int partition, int attempt, Set<String> failed) {
    PartitionsResponse partitions = BlockingRingKvClient.await(client.cluster().partitions());
    Map<Long, String> addresses = new HashMap<>();
    for (Member member : BlockingRingKvClient.await(client.cluster().members()).getMembersList()) {
      addresses.put(member.getNodeId(), member.getClientAddress());
    }
    PartitionInfo info =
        partitions.getPartitionsList().stream()
            .filter(p -> p.getId() == partition)
            .findFirst()
            .orElseThrow(
                () -> new BackupException("partition " + partition + " is not in the map"));
    List<Long> candidates = new ArrayList<>();
    if (info.getLeaderNodeId() != 0) {
      candidates.add(info.getLeaderNodeId());
    }
    for (long replica : info.getReplicasList()) {
      if (!candidates.contains(replica)) {
        candidates.add(replica);
      }
    }
    if (candidates.isEmpty()) {
      throw new BackupException("partition " + partition + " has no replicas in the map");
    }
    for (long node : candidates) {
      String address = addresses.get(node);
      if (address != null && !failed.contains(address)) {
        return address;
      }
    }
    long node = candidates.get(attempt % candidates.size());
    String address = addresses.get(node);
    if (address == null) {
      throw new BackupException("node " + node + " has no client address in the member list");
    }
    return address;
  }

  private BackupPartitionFile exportOnce(
      int partition, int partitionCount, String address, Pacer pacer) throws InterruptedException {
    String name = BackupDirectory.fileName(partition);
    Path partial = directory.resolve(name + BackupDirectory.PARTIAL_SUFFIX);
    MessageDigest digest = BackupDirectory.sha256();
    io.grpc.ClientCall<ExportPartitionRequest, ExportPartitionResponse> call =
        client
            .channel(address)
            .newCall(
                BackupGrpc.getExportPartitionMethod(),
                CallOptions.DEFAULT.withDeadlineAfter(
                    PARTITION_EXPORT_MILLIS_MAX, TimeUnit.MILLISECONDS));
    Iterator<ExportPartitionResponse> stream =
        ClientCalls.blockingServerStreamingCall(
            call, ExportPartitionRequest.newBuilder().setPartition(partition).build());
    ExportHeader header = null;
    long keys = 0;
    boolean complete = false;
    try (OutputStream out =
        new DigestOutputStream(new BufferedOutputStream(Files.newOutputStream(partial)), digest)) {
      while (nextArrives(call, stream, address)) {
        ExportPartitionResponse response = stream.next();
        pacer.took(response.getSerializedSize());
        switch (response.getPartCase()) {
          case HEADER -> {
            header = response.getHeader();
            checkHeader(header, partition, partitionCount, address);
          }
          case BATCH -> {
            if (header == null) {
              throw new BackupException("export of partition " + partition + ": no header");
            }
            for (KeyValue pair : response.getBatch().getKvsList()) {
              pair.writeDelimitedTo(out);
              keys++;
            }
          }
          case TRAILER -> {
            if (response.getTrailer().getKeyCount() != keys || header == null) {
              throw new BackupException(
                  "export of partition "
                      + partition
                      + " from "
                      + address
                      + " announced "
                      + response.getTrailer().getKeyCount()
                      + " keys, received "
                      + keys);
            }
            complete = true;
          }
          case PART_NOT_SET -> throw new BackupException("export sent an empty message");
        }
      }
    } catch (IOException e) {
      call.cancel("backup file failed", e);
      throw new BackupException("cannot write " + partial + ": " + e, e);
    } catch (RuntimeException e) {
      call.cancel("backup failed", e);
      throw e;
    }
    if (!complete) {
      throw Status.UNAVAILABLE
          .withDescription("export of partition " + partition + " ended without its trailer")
          .asRuntimeException();
    }
    Path file = directory.resolve(name);
    try {
      BackupDirectory.renameDurably(partial, file);
      return BackupPartitionFile.newBuilder()
          .setPartition(partition)
          .setFileName(name)
          .setSizeBytes(Files.size(file))
          .setSha256Hex(HexFormat.of().formatHex(digest.digest()))
          .setKeyCount(keys)
          .setAppliedIndex(header.getAppliedIndex())
          .setTerm(header.getTerm())
          .setNodeId(header.getNodeId())
          .build();
    } catch (IOException e) {
      throw new BackupException("cannot finish " + file + ": " + e, e);
    }
  }

  /**
   * {@code stream.hasNext()}, but the call is cancelled (and the wait ends with CANCELLED, which is
   * retried) when nothing arrives within {@link #EXPORT_IDLE_MILLIS_MAX}.
   */
  private static boolean nextArrives(
      io.grpc.ClientCall<?, ?> call, Iterator<ExportPartitionResponse> stream, String address) {
    ScheduledFuture<?> watch =
        IDLE_WATCH.schedule(
            () ->
                call.cancel(
                    "export from "
                        + address
                        + " sent nothing for "
                        + EXPORT_IDLE_MILLIS_MAX
                        + " ms (node gone?)",
                    null),
            EXPORT_IDLE_MILLIS_MAX,
            TimeUnit.MILLISECONDS);
    try {
      return stream.hasNext();
    } finally {
      watch.cancel(false);
    }
  }

  private static void checkHeader(
      ExportHeader header, int partition, int partitionCount, String address) {
    if (header.getPartition() != partition || header.getPartitionCount() != partitionCount) {
      throw new BackupException(
          "node "
              + address
              + " exported partition "
              + header.getPartition()
              + " of "
              + header.getPartitionCount()
              + " when partition "
              + partition
              + " of "
              + partitionCount
              + " was asked for");
    }
  }

  /**
   * Paces reading to a byte rate: after each message, waits until the bytes read so far are no more
   * than the rate allows since the start.
   */
  static final class Pacer {
    private final long bytesPerSecondMax;
    private final LongSupplier nanoClock;
    private long startNanos = -1;
    private long bytes;

    Pacer(long bytesPerSecondMax, LongSupplier nanoClock) {
      this.bytesPerSecondMax = bytesPerSecondMax;
      this.nanoClock = nanoClock;
    }

    void took(long messageBytes) {
      if (bytesPerSecondMax == 0) {
        return;
      }
      if (startNanos < 0) {
        startNanos = nanoClock.getAsLong();
      }
      bytes += messageBytes;
      long waitNanos = waitNanos(bytes, nanoClock.getAsLong() - startNanos, bytesPerSecondMax);
      if (waitNanos > 0) {
        LockSupport.parkNanos(waitNanos);
      }
    }

    /** How long to wait so that {@code bytes} took at least their time at the rate. */
    static long waitNanos(long bytes, long elapsedNanos, long bytesPerSecondMax) {
      double dueNanos = (double) bytes / bytesPerSecondMax * 1e9;
      return Math.max(0, (long) dueNanos - elapsedNanos);
    }
  }
}
