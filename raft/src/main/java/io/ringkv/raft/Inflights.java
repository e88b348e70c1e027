package io.ringkv.raft;

/**
 * The append messages in flight to one follower, as a ring of (last index, bytes) bounded by a
 * count and a byte total. The leader stops sending when it is full and frees slots as the follower
 * acknowledges indexes.
 */
final class Inflights {
  private final int capacityMessages;
  private final long capacityBytes;
  private final long[] lastIndexes;
  private final long[] sizesBytes;
  private int start;
  private int count;
  private long bytes;

  Inflights(int capacityMessages, long capacityBytes) {
    Invariants.check(capacityMessages >= 1, "inflight capacity must be >= 1");
    this.capacityMessages = capacityMessages;
    this.capacityBytes = capacityBytes;
    this.lastIndexes = new long[capacityMessages];
    this.sizesBytes = new long[capacityMessages];
  }

  void add(long lastIndex, long sizeBytes) {
    Invariants.check(!full(), "inflights full");
    if (count > 0) {
      long previous = lastIndexes[(start + count - 1) % capacityMessages];
      Invariants.check(lastIndex > previous, "inflight index %d not above %d", lastIndex, previous);
    }
    int slot = (start + count) % capacityMessages;
    lastIndexes[slot] = lastIndex;
    sizesBytes[slot] = sizeBytes;
    count++;
    bytes += sizeBytes;
  }

  /** Frees every message whose last index is at most {@code index}. */
  void freeLessOrEqual(long index) {
    while (count > 0 && lastIndexes[start] <= index) {
      bytes -= sizesBytes[start];
      start = (start + 1) % capacityMessages;
      count--;
    }
    Invariants.check(bytes >= 0, "inflight bytes negative");
  }

  void freeFirstOne() {
    if (count > 0) {
      freeLessOrEqual(lastIndexes[start]);
    }
  }

  boolean full() {
    return count == capacityMessages || (capacityBytes > 0 && bytes >= capacityBytes);
  }

  int count() {
    return count;
  }

  long bytes() {
    return bytes;
  }

  void reset() {
    start = 0;
    count = 0;
    bytes = 0;
  }
}
