package io.ringkv.storage;

import java.nio.ByteBuffer;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The current value, session record or absence of the keys of one partition that were read or
 * written most recently by its applies, so that applying a write to a key it holds needs no RocksDB
 * read of the key's previous version. Least recently used entries go first once the entries take
 * more than the byte bound.
 *
 * <p>Design notes. It holds the state as of the partition's applied index only: it is filled by
 * reads through a view of exactly that state, updated after each apply's write succeeded, and
 * emptied when an apply fails and when a snapshot install replaces the state. {@link
 * PartitionStore} is its only user, under the store's lock. Keys are the store's own keys of the
 * data family (user keys and session keys, with the group prefix).
 */
final class LatestValues {
  /** Stands for a key known to be absent. */
  static final Object ABSENT = new Object();

  /** Counted per entry beyond its key and value bytes: the map entry, buffers and objects. */
  static final int ENTRY_OVERHEAD_BYTES = 128;

  private final long bytesMax;
  private final LinkedHashMap<ByteBuffer, Object> entries = new LinkedHashMap<>(64, 0.75f, true);
  private long bytes;

  LatestValues(long bytesMax) {
    this.bytesMax = bytesMax;
  }

  /** The key's current value ({@link StoredValue}, {@link SessionRecord} or ABSENT), or null. */
  Object get(byte[] key) {
    return entries.get(ByteBuffer.wrap(key));
  }

  void put(byte[] key, Object value) {
    if (bytesMax <= 0) {
      return;
    }
    ByteBuffer wrapped = ByteBuffer.wrap(key);
    Object previous = entries.put(wrapped, value);
    if (previous != null) {
      bytes -= size(key.length, previous);
    }
    bytes += size(key.length, value);
    Iterator<Map.Entry<ByteBuffer, Object>> eldest = entries.entrySet().iterator();
    while (bytes > bytesMax && eldest.hasNext()) {
      Map.Entry<ByteBuffer, Object> entry = eldest.next();
      bytes -= size(entry.getKey().remaining(), entry.getValue());
      eldest.remove();
    }
  }

  void clear() {
    entries.clear();
    bytes = 0;
  }

  /** Entries held (for tests). */
  int size() {
    return entries.size();
  }

  private static long size(int keyBytes, Object value) {
    long valueBytes =
        switch (value) {
          case StoredValue stored -> stored.value().length;
          case SessionRecord session -> session.response().length;
          default -> 0;
        };
    return keyBytes + valueBytes + ENTRY_OVERHEAD_BYTES;
  }
}
