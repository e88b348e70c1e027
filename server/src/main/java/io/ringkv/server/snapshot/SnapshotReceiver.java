package io.ringkv.server.snapshot;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.ringkv.proto.internal.SnapshotChunk;
import io.ringkv.proto.internal.SnapshotChunkAck;
import io.ringkv.raft.Message;
import io.ringkv.raft.MessageType;
import io.ringkv.raft.Snapshot;
import io.ringkv.server.raft.RaftMessageCodec;
import io.ringkv.storage.SnapshotFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The follower's side of chunked snapshot transfer.
 *
 * <p>Design notes. Chunks arrive on transport threads and are queued (bounded) to ONE receiver
 * thread, which owns all state here: at most one incoming transfer per peer (a new transfer from a
 * peer replaces its old one, whose sender gave up), each written to its own scratch directory under
 * {@code incoming/}. Every chunk is checked before a byte is written: known peer, hosted partition,
 * the next sequence number of its transfer, a plain file name, the next offset of its file, sizes
 * within the chunk, file, total and {@code snapshot-size-bytes-max} limits; each file's CRC32C is
 * checked when its last byte arrives. Anything wrong rejects the whole transfer: scratch deleted,
 * counted by reason, logged once, REJECTED sent back. After the last chunk the files are fsynced
 * and the MSG_SNAP goes to the driver with the directory as its data (the directory is the driver's
 * from then on), and COMPLETE goes back. A transfer silent for longer than the transfer timeout is
 * dropped the same way when the next chunk from anyone arrives, and at close.
 */
final class SnapshotReceiver implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SnapshotReceiver.class);

  private final long nodeId;
  private volatile Set<Long> peers;
  private final SnapshotTransferSettings settings;
  private final ChunkSender transport;
  private final RaftSnapshotPort raft;
  private final Clock clock;
  private final ThreadPoolExecutor executor;
  private final MeterRegistry registry;
  private final Counter bytesReceived;
  private final Counter delivered;

  /** Receiver-thread state only. */
  private final Map<Long, Incoming> incoming = new HashMap<>();

  /** Receiver-thread only: per peer, the last transfer whose refusal was logged (log once). */
  private final Map<Long, Long> refusalLogged = new HashMap<>();

  private static final class Incoming {
    final long fromNodeId;
    final long transferId;
    final long groupId;
    final long totalSizeBytes;
    final Path directory;
    final Set<String> files = new HashSet<>();
    int nextSequence;
    long receivedBytes;
    long lastHeardMillis;
    String fileName;
    long fileSizeBytes;
    int fileCrc32c;
    long fileWritten;
    FileChannel channel;
    CRC32C crc;

    Incoming(long fromNodeId, SnapshotChunk first, Path directory) {
      this.fromNodeId = fromNodeId;
      this.transferId = first.getTransferId();
      this.groupId = first.getGroupId();
      this.totalSizeBytes = first.getTotalSizeBytes();
      this.directory = directory;
    }

    boolean fileOpen() {
      return channel != null;
    }
  }

  /** A chunk that breaks the protocol: the whole transfer is refused. */
  private static final class Refused extends Exception {
    final String reason;

    Refused(String reason, String detail) {
      super(detail, null, false, false);
      this.reason = reason;
    }
  }

  SnapshotReceiver(
      long nodeId,
      Set<Long> peers,
      SnapshotTransferSettings settings,
      ChunkSender transport,
      RaftSnapshotPort raft,
      Clock clock,
      MeterRegistry registry) {
    this.nodeId = nodeId;
    this.peers = Set.copyOf(peers);
    this.settings = settings;
    this.transport = transport;
    this.raft = raft;
    this.clock = clock;
    this.registry = registry;
    this.bytesReceived =
        Counter.builder("ringkv.snapshot.bytes")
            .description("snapshot file bytes streamed, by direction")
            .tag("direction", "in")
            .register(registry);
    this.delivered =
        Counter.builder("ringkv.snapshot.received")
            .description("snapshots received, verified and handed to the Raft driver")
            .register(registry);
    this.executor =
        TransferParts.executor(
            "ringkv-snapshot-receiver", 1, SnapshotTransferSettings.RECEIVE_QUEUE_CHUNKS_MAX);
    // Nothing under incoming/ is needed any more: installs a crash interrupted were finished (or
    // refused) when the store opened, before this runs.
    Directories.deleteTree(settings.incoming());
  }

  /** The node ids snapshots are accepted from from now on (the cluster map's other members). */
  void setPeers(Set<Long> newPeers) {
    this.peers = Set.copyOf(newPeers);
  }

  /** Called on a transport thread; never blocks. */
  void onChunk(long fromNodeId, SnapshotChunk chunk) {
    try {
      executor.execute(() -> receive(fromNodeId, chunk));
    } catch (RejectedExecutionException e) {
      // On a transport thread: no receiver state touched; logged for the first chunk only.
      refuse("queue_full", fromNodeId, chunk, "receiver queue full", chunk.getSequence() == 0);
    }
  }

  private void receive(long fromNodeId, SnapshotChunk chunk) {
    expireSilent();
    Incoming transfer = incoming.get(fromNodeId);
    try {
      if (!peers.contains(fromNodeId)) {
        throw new Refused("unknown_peer", "node " + fromNodeId + " is not a member");
      }
      if (chunk.getSequence() == 0) {
        if (transfer != null) {
          abandon(transfer, "replaced");
        }
        transfer = begin(fromNodeId, chunk);
      } else if (transfer == null || transfer.transferId != chunk.getTransferId()) {
        // Not the active transfer: refuse it without touching the one that is.
        rejected(
            "unknown_transfer",
            fromNodeId,
            chunk,
            "transfer " + chunk.getTransferId() + " is not in progress");
        return;
      }
      write(transfer, chunk);
      if (chunk.getLast()) {
        finish(transfer, chunk);
      } else {
        ack(transfer, chunk.getSequence(), SnapshotChunkAck.Status.RECEIVED, "");
      }
    } catch (Refused e) {
      if (transfer != null && transfer.transferId == chunk.getTransferId()) {
        abandon(transfer, e.reason);
      }
      rejected(e.reason, fromNodeId, chunk, e.getMessage());
    } catch (IOException | RuntimeException e) {
      if (transfer != null) {
        abandon(transfer, "io_error");
      }
      rejected("io_error", fromNodeId, chunk, e.toString());
    }
  }

  private Incoming begin(long fromNodeId, SnapshotChunk chunk) throws Refused, IOException {
    long groupId = chunk.getGroupId();
    if (groupId >= Integer.MAX_VALUE || !raft.hosts((int) groupId)) {
      throw new Refused("not_hosted", "partition " + groupId + " is not hosted here");
    }
    if (chunk.getTotalSizeBytes() > settings.snapshotSizeBytesMax()) {
      throw new Refused(
          "too_large",
          "snapshot of "
              + chunk.getTotalSizeBytes()
              + " bytes is above snapshot-size-bytes-max "
              + settings.snapshotSizeBytesMax());
    }
    Path directory =
        settings.incoming().resolve(groupId + "-from-" + fromNodeId + "-" + chunk.getTransferId());
    Directories.deleteTree(directory);
    Files.createDirectories(directory);
    Incoming transfer = new Incoming(fromNodeId, chunk, directory);
    incoming.put(fromNodeId, transfer);
    return transfer;
  }

  private void write(Incoming transfer, SnapshotChunk chunk) throws Refused, IOException {
    transfer.lastHeardMillis = clock.millis();
    int size = chunk.getData().size();
    check(chunk.getGroupId() == transfer.groupId, "wrong_group", "group changed mid-transfer");
    check(
        chunk.getSequence() == transfer.nextSequence,
        "wrong_sequence",
        "chunk " + chunk.getSequence() + " where " + transfer.nextSequence + " was due");
    check(
        size <= settings.chunkSizeBytesMax(),
        "wrong_size",
        "chunk of " + size + " bytes above " + settings.chunkSizeBytesMax());
    check(
        chunk.getTotalSizeBytes() == transfer.totalSizeBytes
            && transfer.receivedBytes + size <= transfer.totalSizeBytes,
        "wrong_size",
        "more bytes than the announced total " + transfer.totalSizeBytes);
    if (!transfer.fileOpen() || !chunk.getFileName().equals(transfer.fileName)) {
      openFile(transfer, chunk);
    }
    check(
        chunk.getOffset() == transfer.fileWritten
            && chunk.getFileSizeBytes() == transfer.fileSizeBytes
            && chunk.getFileCrc32C() == transfer.fileCrc32c
            && transfer.fileWritten + size <= transfer.fileSizeBytes,
        "wrong_size",
        "chunk at offset "
            + chunk.getOffset()
            + " of "
            + size
            + " bytes does not continue "
            + transfer.fileName
            + " ("
            + transfer.fileWritten
            + " of "
            + transfer.fileSizeBytes
            + " bytes written)");
    ByteBuffer data = chunk.getData().asReadOnlyByteBuffer();
    transfer.crc.update(data.duplicate());
    while (data.hasRemaining()) {
      transfer.channel.write(data);
    }
    transfer.fileWritten += size;
    transfer.receivedBytes += size;
    transfer.nextSequence++;
    bytesReceived.increment(size);
    if (transfer.fileWritten == transfer.fileSizeBytes) {
      closeFile(transfer);
    }
  }

  private void openFile(Incoming transfer, SnapshotChunk chunk) throws Refused, IOException {
    check(!transfer.fileOpen(), "wrong_size", "file " + transfer.fileName + " left incomplete");
    String name = chunk.getFileName();
    check(
        !name.isEmpty()
            && !name.contains("/")
            && !name.contains("\\")
            && !name.startsWith(".")
            && transfer.files.add(name),
        "bad_file_name",
        "file name '" + name + "' is not plain or came twice");
    check(
        transfer.files.size() <= SnapshotTransferSettings.FILE_COUNT_MAX,
        "too_many_files",
        "more than " + SnapshotTransferSettings.FILE_COUNT_MAX + " files");
    check(chunk.getOffset() == 0, "wrong_size", "file " + name + " does not start at offset 0");
    transfer.fileName = name;
    transfer.fileSizeBytes = chunk.getFileSizeBytes();
    transfer.fileCrc32c = chunk.getFileCrc32C();
    transfer.fileWritten = 0;
    transfer.crc = new CRC32C();
    transfer.channel =
        FileChannel.open(
            transfer.directory.resolve(name),
            StandardOpenOption.CREATE_NEW,
            StandardOpenOption.WRITE);
  }

  private void closeFile(Incoming transfer) throws Refused, IOException {
    transfer.channel.force(true);
    transfer.channel.close();
    transfer.channel = null;
    int crc = (int) transfer.crc.getValue();
    check(
        crc == transfer.fileCrc32c,
        "wrong_checksum",
        "file "
            + transfer.fileName
            + " has CRC32C "
            + Integer.toHexString(crc)
            + ", the sender announced "
            + Integer.toHexString(transfer.fileCrc32c));
  }

  private void finish(Incoming transfer, SnapshotChunk chunk) throws Refused, IOException {
    check(!transfer.fileOpen(), "wrong_size", "last chunk leaves " + transfer.fileName + " short");
    check(
        transfer.receivedBytes == transfer.totalSizeBytes,
        "wrong_size",
        transfer.receivedBytes + " bytes received of " + transfer.totalSizeBytes);
    check(
        transfer.files.contains(SnapshotFiles.MANIFEST_NAME),
        "bad_file_name",
        "no " + SnapshotFiles.MANIFEST_NAME);
    Message message;
    try {
      message = RaftMessageCodec.decode(chunk.getMessage());
    } catch (RaftMessageCodec.MalformedMessageException e) {
      throw new Refused("bad_message", "malformed Raft message: " + e.getMessage());
    }
    check(
        message.type() == MessageType.SNAPSHOT
            && message.to() == nodeId
            && message.from() == transfer.fromNodeId
            && !message.snapshot().isEmpty(),
        "bad_message",
        "last chunk carries " + message.type() + " from " + message.from() + " to " + message.to());
    Directories.fsync(transfer.directory);
    byte[] path = transfer.directory.toAbsolutePath().toString().getBytes(StandardCharsets.UTF_8);
    Message local =
        TransferParts.withSnapshot(message, new Snapshot(message.snapshot().metadata(), path));
    incoming.remove(transfer.fromNodeId);
    raft.deliverSnapshot(transfer.fromNodeId, (int) transfer.groupId, local);
    delivered.increment();
    ack(transfer, chunk.getSequence(), SnapshotChunkAck.Status.COMPLETE, "");
    log.info(
        "partition {}: snapshot at {} received from node {} ({} bytes in {} chunks)",
        transfer.groupId,
        message.snapshot().metadata().index(),
        transfer.fromNodeId,
        transfer.receivedBytes,
        transfer.nextSequence);
  }

  private void expireSilent() {
    long now = clock.millis();
    List<Incoming> silent = new ArrayList<>();
    for (Iterator<Incoming> it = incoming.values().iterator(); it.hasNext(); ) {
      Incoming transfer = it.next();
      if (now - transfer.lastHeardMillis > settings.transferTimeoutMillis()) {
        silent.add(transfer);
      }
    }
    for (Incoming transfer : silent) {
      abandon(transfer, "timeout");
      ack(transfer, transfer.nextSequence, SnapshotChunkAck.Status.REJECTED, "timed out");
    }
  }

  /** Drops a transfer's state and scratch files. */
  private void abandon(Incoming transfer, String reason) {
    incoming.remove(transfer.fromNodeId, transfer);
    if (transfer.channel != null) {
      try {
        transfer.channel.close();
      } catch (IOException e) {
        log.debug("closing {} failed", transfer.fileName, e);
      }
      transfer.channel = null;
    }
    Directories.deleteTree(transfer.directory);
    if (reason.equals("replaced") || reason.equals("timeout")) {
      count(reason);
      log.warn(
          "snapshot transfer {} of partition {} from node {} dropped: {}",
          transfer.transferId,
          transfer.groupId,
          transfer.fromNodeId,
          reason);
    }
  }

  /** Receiver thread: refuses, logging once per transfer. */
  private void rejected(String reason, long fromNodeId, SnapshotChunk chunk, String detail) {
    // Chunks already in flight behind the refused one are refused too, without a log line each.
    Long logged = refusalLogged.put(fromNodeId, chunk.getTransferId());
    refuse(reason, fromNodeId, chunk, detail, logged == null || logged != chunk.getTransferId());
  }

  /** Any thread: counts, optionally logs, and answers REJECTED. */
  private void refuse(
      String reason, long fromNodeId, SnapshotChunk chunk, String detail, boolean log) {
    count(reason);
    if (log) {
      SnapshotReceiver.log.warn(
          "snapshot transfer {} of partition {} from node {} refused ({}): {}",
          chunk.getTransferId(),
          chunk.getGroupId(),
          fromNodeId,
          reason,
          detail);
    }
    transport.sendAck(
        fromNodeId,
        SnapshotChunkAck.newBuilder()
            .setTransferId(chunk.getTransferId())
            .setGroupId(chunk.getGroupId())
            .setSequence(chunk.getSequence())
            .setStatus(SnapshotChunkAck.Status.REJECTED)
            .setDetail(detail)
            .build());
  }

  private void ack(Incoming transfer, int sequence, SnapshotChunkAck.Status status, String detail) {
    transport.sendAck(
        transfer.fromNodeId,
        SnapshotChunkAck.newBuilder()
            .setTransferId(transfer.transferId)
            .setGroupId(transfer.groupId)
            .setSequence(sequence)
            .setStatus(status)
            .setDetail(detail)
            .build());
  }

  private static void check(boolean condition, String reason, String detail) throws Refused {
    if (!condition) {
      throw new Refused(reason, detail);
    }
  }

  private void count(String reason) {
    Counter.builder("ringkv.snapshot.rejected")
        .description("incoming snapshot transfers refused or dropped, by reason")
        .tag("reason", reason)
        .register(registry)
        .increment();
  }

  @Override
  public void close() {
    executor.shutdownNow();
    try {
      executor.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    for (Incoming transfer : List.copyOf(incoming.values())) {
      abandon(transfer, "node_stopping");
    }
  }
}
