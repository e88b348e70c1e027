package io.ringkv.server.snapshot;

import com.google.protobuf.ByteString;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.ringkv.proto.internal.SnapshotChunk;
import io.ringkv.proto.internal.SnapshotChunkAck;
import io.ringkv.raft.Invariants;
import io.ringkv.raft.Message;
import io.ringkv.raft.Snapshot;
import io.ringkv.raft.SnapshotMetadata;
import io.ringkv.server.raft.RaftMessageCodec;
import io.ringkv.storage.PartitionStore;
import io.ringkv.storage.SnapshotFiles;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The leader's side of chunked snapshot transfer.
 *
 * <p>Design notes. The Raft driver hands over a MSG_SNAP and returns at once; a sender thread (at
 * most {@link SnapshotTransferSettings#SENDER_THREADS}, never the driver thread) exports the
 * partition from a RocksDB snapshot, rewrites the message's metadata to the exported applied index
 * and term (so data and metadata agree), and streams the files: SST files first, the manifest last,
 * in chunks of at most {@code chunkSizeBytesMax}, with at most {@code windowChunks} of them
 * unacknowledged. The last chunk carries the message. The transfer succeeds when the follower
 * answers COMPLETE (it verified everything and handed it to its driver); a rejection, a timeout or
 * a failed export fail it. Either way the outcome goes back to the leader's Raft core through
 * {@link RaftSnapshotPort#reportSnapshot} and the export is deleted. One transfer per peer at a
 * time: another snapshot for a busy peer is refused at once (Raft asks again later).
 */
final class SnapshotSender implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SnapshotSender.class);

  /** How long a sender waits for a window slot before trying a dropped chunk again. */
  private static final long RESEND_WAIT_MILLIS = 50;

  /**
   * A full window with no acknowledgement for this long ends the transfer. A follower acknowledges
   * each chunk as it writes it, so even a slow disk answers within seconds; 30 s is far past that
   * and far below the transfer timeout (minutes), which a restarted follower would otherwise cost.
   */
  static final long ACK_SILENCE_MILLIS_MAX = 30_000;

  private final SnapshotTransferSettings settings;
  private final ChunkSender transport;
  private final RaftSnapshotPort raft;
  private final Clock clock;
  private final ThreadPoolExecutor executor;
  private final Map<Long, Outgoing> active = new ConcurrentHashMap<>();
  private final AtomicLong nextTransferId;
  private final MeterRegistry registry;
  private final Counter bytesSent;
  private final Counter throttledSeconds;
  private volatile SendRateLimiter rateLimiter;

  /** One outgoing transfer; acks arrive on transport threads. */
  private static final class Outgoing {
    final long transferId;
    final long toNodeId;
    final int partition;
    final Semaphore window;
    final CompletableFuture<String> outcome = new CompletableFuture<>(); // null detail: complete

    /** When the follower last acknowledged a chunk (or the transfer began). */
    volatile long lastAckMillis;

    Outgoing(long transferId, long toNodeId, int partition, int windowChunks, long nowMillis) {
      this.transferId = transferId;
      this.toNodeId = toNodeId;
      this.partition = partition;
      this.window = new Semaphore(windowChunks);
      this.lastAckMillis = nowMillis;
    }
  }

  SnapshotSender(
      SnapshotTransferSettings settings,
      ChunkSender transport,
      RaftSnapshotPort raft,
      Clock clock,
      long firstTransferId,
      MeterRegistry registry) {
    this.settings = settings;
    this.transport = transport;
    this.raft = raft;
    this.clock = clock;
    this.registry = registry;
    this.nextTransferId = new AtomicLong(firstTransferId);
    this.bytesSent =
        Counter.builder("ringkv.snapshot.bytes")
            .description("snapshot file bytes streamed, by direction")
            .tag("direction", "out")
            .register(registry);
    this.throttledSeconds =
        Counter.builder("ringkv.snapshot.send.throttled.seconds")
            .description("time snapshot senders waited for rebalance-bytes-per-second-max")
            .register(registry);
    this.executor =
        TransferParts.executor(
            "ringkv-snapshot-sender",
            SnapshotTransferSettings.SENDER_THREADS,
            SnapshotTransferSettings.SEND_QUEUE_TRANSFERS_MAX);
    // Before any transfer: an export is deleted when its transfer ends, unless the process died.
    Directories.deleteStaleExports(settings.outgoing());
  }

  /** Called on the driver thread for each MSG_SNAP; never blocks. */
  void ship(int partition, Message message, PartitionStore store) {
    long to = message.to();
    Outgoing transfer =
        new Outgoing(
            nextTransferId.getAndIncrement(),
            to,
            partition,
            settings.windowChunks(),
            clock.millis());
    if (active.putIfAbsent(to, transfer) != null) {
      outcome("busy");
      raft.reportSnapshot(partition, to, false);
      return;
    }
    try {
      executor.execute(() -> run(transfer, message, store));
    } catch (RejectedExecutionException e) {
      active.remove(to, transfer);
      outcome("queue_full");
      raft.reportSnapshot(partition, to, false);
    }
  }

  void onAck(long fromNodeId, SnapshotChunkAck ack) {
    Outgoing transfer = active.get(fromNodeId);
    if (transfer == null || transfer.transferId != ack.getTransferId()) {
      outcome("stray_ack"); // a late answer to an abandoned transfer
      return;
    }
    transfer.lastAckMillis = clock.millis();
    switch (ack.getStatus()) {
      case RECEIVED -> transfer.window.release();
      case COMPLETE -> transfer.outcome.complete(null);
      case REJECTED -> {
        transfer.outcome.complete("rejected by node " + fromNodeId + ": " + ack.getDetail());
        transfer.window.release(settings.windowChunks()); // wake a sender waiting for a slot
      }
      default -> outcome("stray_ack");
    }
  }

  private void run(Outgoing transfer, Message message, PartitionStore store) {
    long deadline = clock.millis() + settings.transferTimeoutMillis();
    Path directory =
        settings
            .outgoing()
            .resolve(
                Directories.exportName(transfer.partition, transfer.toNodeId, transfer.transferId));
    String failure;
    try {
      failure = stream(transfer, message, store, directory, deadline);
    } catch (IOException | RuntimeException e) {
      failure = "failed: " + e;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      failure = "interrupted";
    } finally {
      active.remove(transfer.toNodeId, transfer);
      Directories.deleteTree(directory);
    }
    if (failure == null) {
      outcome("sent");
      log.info(
          "partition {}: snapshot streamed to node {} (transfer {})",
          transfer.partition,
          transfer.toNodeId,
          transfer.transferId);
    } else {
      outcome("failed");
      log.warn(
          "partition {}: snapshot to node {} (transfer {}) {}",
          transfer.partition,
          transfer.toNodeId,
          transfer.transferId,
          failure);
    }
    raft.reportSnapshot(transfer.partition, transfer.toNodeId, failure == null);
  }

  /** Exports and streams; returns null on success, else why it failed. */
  private String stream(
      Outgoing transfer, Message message, PartitionStore store, Path directory, long deadline)
      throws IOException, InterruptedException {
    SnapshotFiles files = store.exportSnapshot(directory);
    List<SnapshotFiles.FileEntry> order = new ArrayList<>(files.files());
    order.add(Directories.manifestEntry(files));
    long total = 0;
    for (SnapshotFiles.FileEntry entry : order) {
      total += entry.sizeBytes();
    }
    if (total > settings.snapshotSizeBytesMax()) {
      outcome("too_large");
      return "is "
          + total
          + " bytes, above snapshot-size-bytes-max "
          + settings.snapshotSizeBytesMax();
    }
    // Only a move's snapshot (to a learner: a replica being added) is paced by
    // rebalance-bytes-per-second-max; a voter that fell behind catches up at full speed. The pace
    // is known, so it extends the transfer's timeout rather than counting against it.
    SendRateLimiter limiter = movePace(message, transfer.toNodeId);
    if (limiter != null) {
      deadline += TimeUnit.SECONDS.toMillis(1) + total * 1000 / limiter.bytesPerSecondMax();
    }
    Message finalMessage = withExportedState(transfer.partition, message, files);
    int sequence = 0;
    for (int i = 0; i < order.size(); i++) {
      SnapshotFiles.FileEntry entry = order.get(i);
      boolean lastFile = i == order.size() - 1;
      try (InputStream in = Files.newInputStream(directory.resolve(entry.name()))) {
        long offset = 0;
        do {
          byte[] data =
              in.readNBytes(
                  (int) Math.min(settings.chunkSizeBytesMax(), entry.sizeBytes() - offset));
          boolean last = lastFile && offset + data.length == entry.sizeBytes();
          SnapshotChunk.Builder chunk =
              SnapshotChunk.newBuilder()
                  .setTransferId(transfer.transferId)
                  .setGroupId(transfer.partition)
                  .setSequence(sequence++)
                  .setFileName(entry.name())
                  .setFileSizeBytes(entry.sizeBytes())
                  .setFileCrc32C(entry.crc32c())
                  .setOffset(offset)
                  .setData(ByteString.copyFrom(data))
                  .setTotalSizeBytes(total)
                  .setLast(last);
          if (last) {
            chunk.setMessage(RaftMessageCodec.encode(finalMessage));
          }
          String failure = sendWindowed(transfer, chunk.build(), deadline, limiter);
          if (failure != null) {
            return failure;
          }
          offset += data.length;
          bytesSent.increment(data.length);
        } while (offset < entry.sizeBytes());
      }
    }
    return awaitOutcome(transfer, deadline);
  }

  private String sendWindowed(
      Outgoing transfer, SnapshotChunk chunk, long deadline, SendRateLimiter limiter)
      throws InterruptedException {
    while (true) {
      if (transfer.outcome.isDone()) {
        return transfer.outcome.getNow("ended early");
      }
      long remaining = deadline - clock.millis();
      if (remaining <= 0) {
        return "timed out after " + settings.transferTimeoutMillis() + " ms";
      }
      if (!transfer.window.tryAcquire(
          Math.min(remaining, RESEND_WAIT_MILLIS), TimeUnit.MILLISECONDS)) {
        long silentMillis = clock.millis() - transfer.lastAckMillis;
        if (silentMillis > ACK_SILENCE_MILLIS_MAX) {
          // The follower restarted (its new process knows nothing of this transfer) or the chunks
          // in flight were lost with a connection: end the transfer so the leader starts another,
          // rather than holding the follower in snapshot state until the transfer timeout.
          return "no acknowledgement from node "
              + transfer.toNodeId
              + " for "
              + silentMillis
              + " ms with the window full";
        }
        continue;
      }
      if (transfer.outcome.isDone()) {
        return transfer.outcome.getNow("ended early");
      }
      if (limiter != null) {
        throttle(limiter, chunk.getData().size());
      }
      if (transport.sendChunk(transfer.toNodeId, chunk)) {
        return null;
      }
      // Dropped (connection backed up or down): give the slot back and try again shortly.
      transfer.window.release();
      outcome("chunk_resent");
      if (transfer.outcome.isDone()) {
        continue;
      }
      try {
        transfer.outcome.get(RESEND_WAIT_MILLIS, TimeUnit.MILLISECONDS);
      } catch (TimeoutException | ExecutionException e) {
        // Nothing arrived: try the chunk again.
      }
    }
  }

  /** The pace of a move's snapshot to {@code toNodeId}, or null when it goes at full speed. */
  private SendRateLimiter movePace(Message message, long toNodeId) {
    SendRateLimiter limiter = rateLimiter;
    boolean toLearner =
        message.snapshot() != null
            && message.snapshot().metadata().confState().learners().contains(toNodeId);
    return toLearner ? limiter : null;
  }

  /**
   * Waits until the node's send rate allows {@code bytes} more (see {@link SendRateLimiter}); the
   * transfer's deadline already includes the time its pace needs.
   */
  private void throttle(SendRateLimiter limiter, long bytes) throws InterruptedException {
    long waitNanos = limiter.reserve(bytes);
    if (waitNanos > 0) {
      throttledSeconds.increment(waitNanos / 1e9);
      TimeUnit.NANOSECONDS.sleep(waitNanos); // this sender thread's pace; the driver never waits
    }
  }

  /** Caps the bytes per second all transfers of this node send together; one chunk is the burst. */
  void limitRate(long bytesPerSecondMax, LongSupplier nanoTime) {
    this.rateLimiter =
        new SendRateLimiter(bytesPerSecondMax, settings.chunkSizeBytesMax(), nanoTime);
  }

  private String awaitOutcome(Outgoing transfer, long deadline) throws InterruptedException {
    while (true) {
      long remaining = deadline - clock.millis();
      if (remaining <= 0) {
        return "timed out after "
            + settings.transferTimeoutMillis()
            + " ms waiting for the follower";
      }
      try {
        return transfer.outcome.get(
            Math.min(remaining, RESEND_WAIT_MILLIS * 20), TimeUnit.MILLISECONDS);
      } catch (TimeoutException e) {
        // The last chunks are out; the follower answers COMPLETE once it has fsynced and handed
        // the files over. Silence past the bound means it restarted or the chunks were lost.
        long silentMillis = clock.millis() - transfer.lastAckMillis;
        if (silentMillis > ACK_SILENCE_MILLIS_MAX) {
          return "no acknowledgement from node "
              + transfer.toNodeId
              + " for "
              + silentMillis
              + " ms after the last chunk";
        }
      } catch (ExecutionException e) {
        return "failed: " + e.getCause();
      }
    }
  }

  /**
   * The MSG_SNAP with the exported state's index, term and configuration; its data travels as
   * files. The configuration must be the one as of the exported index, which the store records with
   * every apply: the log's snapshot record is older, and a membership change between the two (a
   * move's joint configuration) would otherwise be missing on the receiver, which would then fail
   * on the change that leaves it.
   */
  static Message withExportedState(int partition, Message message, SnapshotFiles files) {
    io.ringkv.raft.ConfState exportedConf = files.appliedState().confState();
    SnapshotMetadata metadata =
        new SnapshotMetadata(
            files.appliedState().index(),
            files.appliedState().term(),
            exportedConf.voters().isEmpty()
                ? message.snapshot().metadata().confState() // a store from before the record
                : exportedConf);
    Invariants.check(
        metadata.index() >= message.snapshot().metadata().index(),
        "partition %d: exported state %d behind snapshot record %d",
        partition,
        metadata.index(),
        message.snapshot().metadata().index());
    return TransferParts.withSnapshot(message, new Snapshot(metadata, new byte[0]));
  }

  private void outcome(String outcome) {
    Counter.builder("ringkv.snapshot.sends")
        .description("outgoing snapshot transfers and chunk events, by outcome")
        .tag("outcome", outcome)
        .register(registry)
        .increment();
  }

  @Override
  public void close() {
    executor.shutdownNow();
    for (Outgoing transfer : active.values()) {
      transfer.outcome.complete("node stopping");
    }
  }
}
