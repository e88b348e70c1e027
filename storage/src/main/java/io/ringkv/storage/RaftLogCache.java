package io.ringkv.storage;

import io.ringkv.raft.Entry;
import io.ringkv.raft.Invariants;
import java.util.List;

/**
 * The most recent entries of one group's log, in memory, so that the Raft core's frequent questions
 * about recent terms and entries do not go to RocksDB.
 *
 * <p>Design: the cache holds a contiguous run of entries that always ends at the log's durable last
 * index (or is empty). It is filled only with entries that are already durable, from the same place
 * that publishes the new log bounds, so it never shows what a crash could lose. An append replaces
 * whatever the cache holds from its first index on (a conflicting suffix is dropped with it); an
 * append that does not touch the cached run (after a gap or before it) starts a new run. Compaction
 * and snapshot install drop what they cover. Old entries are evicted from the front to stay within
 * {@code entriesMax} entries and {@code sizeBytesMax} bytes (sizes as {@link Entry#sizeBytes()}).
 *
 * <p>Storage is a power-of-two ring of slots that grows on demand up to what {@code entriesMax}
 * needs, so an idle group costs almost nothing. Not thread-safe: its {@link RaftLogStore} guards it
 * with its own monitor.
 */
final class RaftLogCache {
  private static final int SLOTS_INITIAL = 16;

  private final int entriesMax;
  private final long sizeBytesMax;
  private Entry[] slots = new Entry[0];
  private int head;
  private int count;
  private long sizeBytes;

  RaftLogCache(int entriesMax, long sizeBytesMax) {
    Invariants.check(
        entriesMax >= 0 && sizeBytesMax >= 0,
        "log cache bounds must be >= 0: %d entries, %d bytes",
        entriesMax,
        sizeBytesMax);
    this.entriesMax = entriesMax;
    this.sizeBytesMax = sizeBytesMax;
  }

  boolean isEmpty() {
    return count == 0;
  }

  int size() {
    return count;
  }

  long sizeBytes() {
    return sizeBytes;
  }

  /** Index of the first cached entry; only meaningful when not empty. */
  long firstIndex() {
    return slot(0).index();
  }

  /** Index of the last cached entry; only meaningful when not empty. */
  long lastIndex() {
    return slot(count - 1).index();
  }

  boolean contains(long index) {
    return count > 0 && index >= firstIndex() && index <= lastIndex();
  }

  /** The cached entry at {@code index}; the caller checked {@link #contains}. */
  Entry get(long index) {
    Entry entry = slot((int) (index - firstIndex()));
    Invariants.check(
        entry.index() == index, "log cache: slot holds %d, not %d", entry.index(), index);
    return entry;
  }

  /**
   * Adds durable, contiguous {@code entries}; they replace every cached entry from their first
   * index on, then the oldest entries are evicted to respect the bounds.
   */
  void append(List<Entry> entries) {
    if (entries.isEmpty() || entriesMax == 0) {
      return;
    }
    long first = entries.getFirst().index();
    if (count > 0 && first >= firstIndex() && first <= lastIndex() + 1) {
      truncateFrom(first);
    } else {
      clear();
    }
    for (Entry entry : entries) {
      add(entry);
      // Evicting after each entry keeps the ring at most entriesMax + 1 slots even for an append
      // larger than the cache.
      evict();
    }
  }

  /** Drops the cached entries at and below {@code index} (compaction, snapshot). */
  void dropThrough(long index) {
    while (count > 0 && slot(0).index() <= index) {
      removeFirst();
    }
  }

  void clear() {
    for (int i = 0; i < count; i++) {
      slots[(head + i) & (slots.length - 1)] = null;
    }
    head = 0;
    count = 0;
    sizeBytes = 0;
  }

  private void truncateFrom(long index) {
    int keep = (int) (index - firstIndex());
    for (int i = keep; i < count; i++) {
      int position = (head + i) & (slots.length - 1);
      sizeBytes -= slots[position].sizeBytes();
      slots[position] = null;
    }
    count = keep;
  }

  private void add(Entry entry) {
    Invariants.check(
        count == 0 || entry.index() == lastIndex() + 1,
        "log cache: entry %d does not follow %d",
        entry.index(),
        count == 0 ? 0 : lastIndex());
    if (count == slots.length) {
      grow();
    }
    slots[(head + count) & (slots.length - 1)] = entry;
    count++;
    sizeBytes += entry.sizeBytes();
  }

  /** Evicts from the front while over a bound (an entry larger than the byte bound is not kept). */
  private void evict() {
    while (count > 0 && (count > entriesMax || sizeBytes > sizeBytesMax)) {
      removeFirst();
    }
  }

  private void removeFirst() {
    sizeBytes -= slots[head].sizeBytes();
    slots[head] = null;
    head = (head + 1) & (slots.length - 1);
    count--;
  }

  private void grow() {
    Entry[] larger = new Entry[Math.max(SLOTS_INITIAL, slots.length * 2)];
    for (int i = 0; i < count; i++) {
      larger[i] = slots[(head + i) & (slots.length - 1)];
    }
    slots = larger;
    head = 0;
  }

  private Entry slot(int offset) {
    return slots[(head + offset) & (slots.length - 1)];
  }
}
