package io.ringkv.server;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.ringkv.proto.v1.BackupGrpc;
import io.ringkv.proto.v1.ExportBatch;
import io.ringkv.proto.v1.ExportHeader;
import io.ringkv.proto.v1.ExportPartitionRequest;
import io.ringkv.proto.v1.ExportPartitionResponse;
import io.ringkv.proto.v1.ExportTrailer;
import io.ringkv.proto.v1.KeyValue;
import io.ringkv.raft.Invariants;
import io.ringkv.server.raft.DriverException;
import io.ringkv.server.raft.MultiRaftDriver;
import io.ringkv.storage.AppliedState;
import io.ringkv.storage.PartitionReadView;
import io.ringkv.storage.ScanRange;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * Serves {@code Backup.ExportPartition}: one partition's pairs as of one linearizable point.
 *
 * <p>Design notes. Any replica may serve: it runs ReadIndex through its leader ({@link
 * MultiRaftDriver#readIndexOnAnyReplica}), which completes once the local replica has applied at
 * least the leader's commit index as of the call, and only then opens one RocksDB snapshot of the
 * partition and reads everything from it; so the export holds every write acknowledged before the
 * call began, and its applied index names exactly the state it holds. The snapshot never blocks
 * applies. Each export runs on its own thread and sends a batch only when the call's transport is
 * ready for it, so a slow (or rate-limited) reader slows the export instead of filling this node's
 * memory; a reader that stops reading for {@link #READER_IDLE_MILLIS_MAX} ends it. At most {@link
 * #EXPORTS_CONCURRENT_MAX} exports run at once per node; more are refused with RESOURCE_EXHAUSTED.
 */
final class BackupService extends BackupGrpc.BackupImplBase {
  /** Exports one node serves at once: each holds a storage snapshot and reads the disk. */
  static final int EXPORTS_CONCURRENT_MAX = 4;

  /** Payload of one streamed batch: well under the client's default message limit. */
  static final long EXPORT_BATCH_BYTES_MAX = 1024 * 1024;

  /** Pairs of one streamed batch. */
  static final int EXPORT_BATCH_PAIRS_MAX = 4096;

  /** How long the read barrier may take before the export fails UNAVAILABLE. */
  static final long READ_BARRIER_MILLIS_MAX = 10_000;

  /** How long an export waits for a reader that does not read before it gives up. */
  static final long READER_IDLE_MILLIS_MAX = 60_000;

  /** How long shutdown waits for running exports to stop. */
  static final long SHUTDOWN_WAIT_MILLIS = 10_000;

  private final String clusterId;
  private final long nodeId;
  private final int partitionCount;
  private final MultiRaftDriver driver;
  private final LeaderRouter router;
  private final Semaphore exports = new Semaphore(EXPORTS_CONCURRENT_MAX);
  private final Counter exported;
  private final Counter refused;
  private final ExecutorService exporters =
      Executors.newCachedThreadPool(
          Thread.ofPlatform().name("ringkv-backup-export-", 0).daemon().factory());

  BackupService(
      String clusterId,
      long nodeId,
      int partitionCount,
      MultiRaftDriver driver,
      LeaderRouter router,
      MeterRegistry registry) {
    this.clusterId = clusterId;
    this.nodeId = nodeId;
    this.partitionCount = partitionCount;
    this.driver = driver;
    this.router = router;
    this.exported =
        Counter.builder("ringkv.backup.exported.pairs")
            .description("Key-value pairs this node streamed to backups")
            .register(registry);
    this.refused =
        Counter.builder("ringkv.backup.exports.refused")
            .description("Partition exports refused because export-concurrent-max were running")
            .register(registry);
  }

  /** Stops every export and waits for them, so the store they read can be closed next. */
  void shutdown() {
    exporters.shutdownNow();
    try {
      if (!exporters.awaitTermination(SHUTDOWN_WAIT_MILLIS, TimeUnit.MILLISECONDS)) {
        throw new IllegalStateException(
            "backup exports did not stop within " + SHUTDOWN_WAIT_MILLIS + " ms");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void exportPartition(
      ExportPartitionRequest request, StreamObserver<ExportPartitionResponse> responses) {
    int partition = request.getPartition();
    if (partition >= partitionCount) {
      responses.onError(
          KvErrors.malformed(
              "partition "
                  + partition
                  + " does not exist (partition count "
                  + partitionCount
                  + ")"));
      return;
    }
    if (!exports.tryAcquire()) {
      refused.increment();
      responses.onError(
          KvErrors.overloaded(partition, "exports-concurrent-max", EXPORTS_CONCURRENT_MAX));
      return;
    }
    ServerCallStreamObserver<ExportPartitionResponse> call =
        (ServerCallStreamObserver<ExportPartitionResponse>) responses;
    ReadySignal ready = new ReadySignal();
    call.setOnReadyHandler(ready::signal);
    call.setOnCancelHandler(ready::signal);
    exporters.execute(() -> {
      try {
        export(partition, call, ready);
      } catch (StatusRuntimeException e) {
        fail(call, e);
      } catch (DriverException e) {
        fail(call, router.driverError(e));
      } catch (RuntimeException e) {
        fail(call, Status.INTERNAL.withDescription(e.toString()).asRuntimeException());
      } catch (InterruptedException e) {
        fail(call, Status.UNAVAILABLE.withDescription("node stopping").asRuntimeException());
      } finally {
        exports.release();
      }
    });
  }

  private void export(
      int partition, ServerCallStreamObserver<ExportPartitionResponse> call, ReadySignal ready)
      throws InterruptedException {
    long term = readBarrier(partition);
    try (PartitionReadView view = driver.store(partition).readView()) {
      AppliedState applied = view.appliedState();
      send(
          call,
          ready,
          ExportPartitionResponse.newBuilder()
              .setHeader(
                  ExportHeader.newBuilder()
                      .setPartition(partition)
                      .setPartitionCount(partitionCount)
                      .setClusterId(clusterId)
                      .setNodeId(nodeId)
                      .setAppliedIndex(applied.index())
                      .setTerm(term))
              .build());
      long keyCount = 0;
      byte[] start = new byte[0];
      while (true) {
        List<io.ringkv.storage.KeyValue> page =
            view.scan(
                ScanRange.between(start, null),
                EXPORT_BATCH_PAIRS_MAX,
                EXPORT_BATCH_BYTES_MAX,
                ScanFanOut.PAIR_OVERHEAD_BYTES);
        if (page.isEmpty()) {
          break;
        }
        ExportBatch.Builder batch = ExportBatch.newBuilder();
        for (io.ringkv.storage.KeyValue pair : page) {
          Invariants.check(
              Arrays.compareUnsigned(pair.key(), start) >= 0, "export keys out of order");
          batch.addKvs(toProto(pair));
        }
        send(call, ready, ExportPartitionResponse.newBuilder().setBatch(batch).build());
        keyCount += page.size();
        exported.increment(page.size());
        start = successor(page.getLast().key());
      }
      send(
          call,
          ready,
          ExportPartitionResponse.newBuilder()
              .setTrailer(ExportTrailer.newBuilder().setKeyCount(keyCount))
              .build());
      call.onCompleted();
    }
  }

  /** Ends the call with {@code error}, unless the caller is gone already. */
  private static void fail(
      ServerCallStreamObserver<ExportPartitionResponse> call, StatusRuntimeException error) {
    if (call.isCancelled()) {
      return;
    }
    try {
      call.onError(error);
    } catch (IllegalStateException e) {
      // Closed meanwhile (cancelled between the check and the close): nothing to tell.
    }
  }

  /** ReadIndex through the leader; the term it confirmed. */
  private long readBarrier(int partition) throws InterruptedException {
    try {
      return driver
          .readIndexOnAnyReplica(partition)
          .get(READ_BARRIER_MILLIS_MAX, TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      throw Status.UNAVAILABLE
          .withDescription("partition " + partition + ": read barrier not done within the deadline")
          .asRuntimeException();
    } catch (java.util.concurrent.ExecutionException e) {
      if (e.getCause() instanceof DriverException driverException) {
        throw driverException;
      }
      throw Status.INTERNAL.withDescription(e.getCause().toString()).asRuntimeException();
    }
  }

  /** Sends once the transport takes more; fails the export when the reader went away or idles. */
  private static void send(
      ServerCallStreamObserver<ExportPartitionResponse> call,
      ReadySignal ready,
      ExportPartitionResponse response)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(READER_IDLE_MILLIS_MAX);
    while (!call.isReady()) {
      if (call.isCancelled()) {
        throw Status.CANCELLED.withDescription("the reader cancelled").asRuntimeException();
      }
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        throw Status.DEADLINE_EXCEEDED
            .withDescription("the reader read nothing for " + READER_IDLE_MILLIS_MAX + " ms")
            .asRuntimeException();
      }
      ready.await(left);
    }
    call.onNext(response);
  }

  private static KeyValue toProto(io.ringkv.storage.KeyValue pair) {
    return KeyValue.newBuilder()
        .setKey(ByteString.copyFrom(pair.key()))
        .setValue(ByteString.copyFrom(pair.value().value()))
        .setCreateRevision(pair.value().createRevision())
        .setModRevision(pair.value().modRevision())
        .setVersion(pair.value().version())
        .build();
  }

  /** The smallest key after {@code key}. */
  private static byte[] successor(byte[] key) {
    return Arrays.copyOf(key, key.length + 1);
  }

  /** Wakes the export thread when the transport becomes ready or the call is cancelled. */
  private static final class ReadySignal {
    private boolean signalled;

    synchronized void signal() {
      signalled = true;
      notifyAll();
    }

    synchronized void await(long nanos) throws InterruptedException {
      if (!signalled) {
        TimeUnit.NANOSECONDS.timedWait(this, nanos);
      }
      signalled = false;
    }
  }
}
