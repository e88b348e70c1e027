package io.ringkv.server;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import io.ringkv.proto.v1.KeyValue;
import io.ringkv.proto.v1.ScanResponse;
import io.ringkv.raft.Invariants;
import io.ringkv.storage.PartitionReadView;
import io.ringkv.storage.ScanRange;
import java.util.Arrays;
import java.util.List;
import java.util.PriorityQueue;

/**
 * One page of a scan over several local partitions, merged in key order while it is read: each
 * partition is read from its own consistent view in small chunks, and a partition is read further
 * only when the merge has used up what it read of it.
 *
 * <p>Design notes. On a hash ring the first {@code limit} keys of a range are spread over every
 * partition, about {@code limit / partitionCount} in each, so reading {@code limit} pairs of every
 * partition (what a page of one partition must offer) reads about {@code partitionCount} times the
 * pairs the page returns. Here each partition's first chunk is about twice its expected share, and
 * a chunk used up is followed by one twice its size; the page reads about its own pairs plus a
 * chunk per partition. Every chunk of a partition comes from the same view (one RocksDB snapshot
 * taken after the partition's read barrier passed), so a partition's pairs are read as of one
 * applied index, as a single read of them would be. Only the pairs the page returns are turned into
 * response messages.
 */
final class PartitionPageMerge {
  /** A first chunk is never smaller than this (a partition may hold a long run of the keys). */
  static final int FIRST_CHUNK_MIN = 8;

  private PartitionPageMerge() {}

  /** Where one partition's reading stands: the unread rest of its chunk, and how to go on. */
  private static final class Cursor {
    final PartitionReadView view;
    final byte[] end;
    List<io.ringkv.storage.KeyValue> chunk;
    int next;
    int chunkSize;

    /** The store returned a short chunk: the partition has nothing past it in range. */
    boolean lastChunk;

    Cursor(PartitionReadView view, byte[] end) {
      this.view = view;
      this.end = end;
    }

    io.ringkv.storage.KeyValue head() {
      return chunk.get(next);
    }
  }

  /**
   * The first {@code limit} pairs of {@code range} over {@code views} in key order, cut short of
   * {@code bytesMax} bytes of encoded pairs. {@code more} is set when pairs in range follow the
   * last one returned (with {@code next_key} right after it). The views stay open (the caller's).
   *
   * @param partitionCount partitions of the whole key space, to size the first chunks
   */
  static ScanResponse merge(
      List<PartitionReadView> views,
      ScanRange range,
      int limit,
      long bytesMax,
      int pairOverheadBytes,
      boolean keysOnly,
      int partitionCount) {
    Invariants.check(limit >= 1, "scan limit must be >= 1, got %d", limit);
    int firstChunk =
        Math.min(
            limit,
            Math.max(FIRST_CHUNK_MIN, (int) Math.ceil(2.0 * limit / Math.max(1, partitionCount))));
    PriorityQueue<Cursor> heads =
        new PriorityQueue<>(
            Math.max(1, views.size()),
            (a, b) -> Arrays.compareUnsigned(a.head().key(), b.head().key()));
    for (PartitionReadView view : views) {
      Cursor cursor = new Cursor(view, range.end());
      cursor.chunkSize = firstChunk;
      if (read(cursor, range.start(), bytesMax, pairOverheadBytes)) {
        heads.add(cursor);
      }
    }
    ScanResponse.Builder response = ScanResponse.newBuilder();
    long bytes = 0;
    while (!heads.isEmpty() && response.getKvsCount() < limit) {
      Cursor cursor = heads.poll();
      io.ringkv.storage.KeyValue pair = cursor.head();
      KeyValue built = message(pair, keysOnly);
      bytes += CodedOutputStream.computeMessageSize(ScanResponse.KVS_FIELD_NUMBER, built);
      if (bytes > bytesMax) {
        heads.add(cursor); // not returned: it follows the page
        break;
      }
      response.addKvs(built);
      cursor.next++;
      if (cursor.next < cursor.chunk.size()) {
        heads.add(cursor);
      } else if (!cursor.lastChunk) {
        cursor.chunkSize = Math.min(limit, cursor.chunkSize * 2);
        if (read(cursor, after(pair.key()), bytesMax, pairOverheadBytes)) {
          heads.add(cursor);
        }
      }
    }
    boolean more = !heads.isEmpty();
    response.setMore(more);
    if (more) {
      Invariants.check(response.getKvsCount() > 0, "a scan page with more to come is empty");
      ByteString last = response.getKvs(response.getKvsCount() - 1).getKey();
      response.setNextKey(last.concat(ByteString.copyFrom(new byte[] {0})));
    }
    return response.build();
  }

  /** A stored pair as a scan answers it. */
  static KeyValue message(io.ringkv.storage.KeyValue pair, boolean keysOnly) {
    KeyValue.Builder kv =
        KeyValue.newBuilder()
            .setKey(ByteString.copyFrom(pair.key()))
            .setCreateRevision(pair.value().createRevision())
            .setModRevision(pair.value().modRevision())
            .setVersion(pair.value().version());
    if (!keysOnly) {
      kv.setValue(ByteString.copyFrom(pair.value().value()));
    }
    return kv.build();
  }

  /** Reads the cursor's next chunk from {@code from}; false when the partition has no more. */
  private static boolean read(Cursor cursor, byte[] from, long bytesMax, int pairOverheadBytes) {
    if (cursor.end != null && Arrays.compareUnsigned(from, cursor.end) >= 0) {
      cursor.lastChunk = true;
      return false;
    }
    List<io.ringkv.storage.KeyValue> chunk =
        cursor.view.scan(
            new ScanRange(from, cursor.end), cursor.chunkSize, bytesMax, pairOverheadBytes);
    cursor.chunk = chunk;
    cursor.next = 0;
    // Short of its count and of its byte budget: the store ran out of pairs in range.
    long chunkBytes = 0;
    for (io.ringkv.storage.KeyValue pair : chunk) {
      chunkBytes += pair.key().length + pair.value().value().length + pairOverheadBytes;
    }
    cursor.lastChunk = chunk.size() < cursor.chunkSize && chunkBytes <= bytesMax;
    return !chunk.isEmpty();
  }

  /** The smallest key after {@code key}. */
  private static byte[] after(byte[] key) {
    return Arrays.copyOf(key, key.length + 1);
  }
}
