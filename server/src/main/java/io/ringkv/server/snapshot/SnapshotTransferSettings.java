package io.ringkv.server.snapshot;

import io.ringkv.raft.Invariants;
import java.nio.file.Path;

/**
 * Limits of chunked snapshot transfer, validated on construction.
 *
 * @param chunkSizeBytesMax file bytes in one chunk; with {@link #CHUNK_OVERHEAD_BYTES} it must stay
 *     at most half the peer frame limit, so a chunk never comes near that limit
 * @param windowChunks chunks a sender has in flight (sent, not yet acknowledged)
 * @param transferTimeoutMillis a transfer (export, streaming, verification, hand-off) that takes
 *     longer is abandoned on both sides and reported to Raft as failed
 * @param snapshotSizeBytesMax (setting {@code snapshot-size-bytes-max}) largest snapshot, all its
 *     files together, this node sends or accepts
 * @param directory scratch root under the data dir: {@code outgoing/} for exports being sent,
 *     {@code incoming/} for snapshots being received (durable: an install is rolled forward from
 *     there after a crash)
 */
public record SnapshotTransferSettings(
    int chunkSizeBytesMax,
    int windowChunks,
    long transferTimeoutMillis,
    long snapshotSizeBytesMax,
    Path directory) {
  /** Room for a chunk's other fields (ids, file name, the final Raft message) and framing. */
  public static final int CHUNK_OVERHEAD_BYTES = 16 * 1024;

  /** Transfers one node sends to one peer at a time; another snapshot for it is refused. */
  public static final int OUTGOING_TRANSFERS_PER_PEER_MAX = 1;

  /** Transfers one node receives from one peer at a time; a new one replaces the old. */
  public static final int INCOMING_TRANSFERS_PER_PEER_MAX = 1;

  /** Transfers a node exports and streams at once, over all peers. */
  public static final int SENDER_THREADS = 2;

  /** Snapshot requests waiting for a sender thread; more are refused (Raft retries later). */
  public static final int SEND_QUEUE_TRANSFERS_MAX = 64;

  /** Chunks waiting to be written by the receiver; more are refused with their transfer. */
  public static final int RECEIVE_QUEUE_CHUNKS_MAX = 256;

  /** Files one snapshot may have (the manifest included). */
  public static final int FILE_COUNT_MAX = 1024;

  public static final long SNAPSHOT_SIZE_BYTES_MAX_DEFAULT = 8L * 1024 * 1024 * 1024;
  public static final int CHUNK_SIZE_BYTES_MAX_DEFAULT = 1024 * 1024;
  public static final int WINDOW_CHUNKS_DEFAULT = 4;
  public static final long TRANSFER_TIMEOUT_MILLIS_DEFAULT = 10 * 60 * 1000L;

  public SnapshotTransferSettings {
    Invariants.check(chunkSizeBytesMax >= 1024, "chunkSizeBytesMax must be >= 1024");
    Invariants.check(windowChunks >= 1, "windowChunks must be >= 1");
    Invariants.check(transferTimeoutMillis >= 1, "transferTimeoutMillis must be >= 1");
    Invariants.check(snapshotSizeBytesMax >= 1024, "snapshotSizeBytesMax must be >= 1024");
    Invariants.check(directory != null, "directory must be set");
  }

  /**
   * Defaults sized for a peer frame limit of {@code frameSizeBytesMax}: chunks of at most a quarter
   * of it (and at most {@link #CHUNK_SIZE_BYTES_MAX_DEFAULT}).
   */
  public static SnapshotTransferSettings forFrameLimit(
      int frameSizeBytesMax, long snapshotSizeBytesMax, Path directory) {
    int chunk =
        Math.clamp(
            frameSizeBytesMax / 4 - CHUNK_OVERHEAD_BYTES, 4096, CHUNK_SIZE_BYTES_MAX_DEFAULT);
    return new SnapshotTransferSettings(
        chunk,
        WINDOW_CHUNKS_DEFAULT,
        TRANSFER_TIMEOUT_MILLIS_DEFAULT,
        snapshotSizeBytesMax,
        directory);
  }

  /** Checks the relation to the peer transport's frame limit (once, at start). */
  public void checkFits(int frameSizeBytesMax) {
    Invariants.check(
        (long) chunkSizeBytesMax + CHUNK_OVERHEAD_BYTES <= frameSizeBytesMax / 2,
        "snapshot chunks of %d bytes do not stay under half the peer frame limit %d",
        chunkSizeBytesMax,
        frameSizeBytesMax);
  }

  Path outgoing() {
    return directory.resolve("outgoing");
  }

  Path incoming() {
    return directory.resolve("incoming");
  }
}
