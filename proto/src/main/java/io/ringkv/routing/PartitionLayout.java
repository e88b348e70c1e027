package io.ringkv.routing;

/**
 * Cuts the unsigned 64-bit hash space into {@code partitionCount} contiguous, equal ranges;
 * partition {@code i} owns hashes {@code [i * 2^64 / P, (i + 1) * 2^64 / P - 1]} (unsigned). With P
 * a power of two, a hash's partition is simply its top {@code log2(P)} bits.
 *
 * <p><b>Fixed forever.</b> Client and server compute partition ids from this class; the mapping
 * from (hash, P) to partition id must never change, or keys would be looked for where they are not.
 * Ranges that later split will be described by the partition map, not by changing this class.
 *
 * <p>All hashes and range bounds are unsigned 64-bit values carried in Java {@code long}s: compare
 * them with {@link Long#compareUnsigned} and print them with {@link Long#toUnsignedString}.
 */
public final class PartitionLayout {
  /** Upper bound on the partition count: each partition is a Raft group on RF nodes. */
  public static final int PARTITION_COUNT_MAX = 1 << 16;

  private final int partitionCount;
  private final int partitionBits;

  private PartitionLayout(int partitionCount) {
    this.partitionCount = partitionCount;
    this.partitionBits = Integer.numberOfTrailingZeros(partitionCount);
  }

  /**
   * A layout of {@code partitionCount} partitions.
   *
   * @throws IllegalArgumentException unless {@code partitionCount} is a power of two in [1, {@link
   *     #PARTITION_COUNT_MAX}]
   */
  public static PartitionLayout of(int partitionCount) {
    if (partitionCount < 1
        || partitionCount > PARTITION_COUNT_MAX
        || Integer.bitCount(partitionCount) != 1) {
      throw new IllegalArgumentException(
          "partition count must be a power of two between 1 and "
              + PARTITION_COUNT_MAX
              + ", got "
              + partitionCount);
    }
    return new PartitionLayout(partitionCount);
  }

  public int partitionCount() {
    return partitionCount;
  }

  /** The partition whose range holds the (unsigned) {@code hash}. */
  public int partitionOfHash(long hash) {
    // Java masks shift distances to 6 bits, so a shift by 64 would be a shift by 0: special-case
    // P=1.
    return partitionBits == 0 ? 0 : (int) (hash >>> (Long.SIZE - partitionBits));
  }

  /** The partition that owns {@code key}, hash tags included (see {@link KeyHasher}). */
  public int partitionOfKey(byte[] key) {
    return partitionOfHash(KeyHasher.hashKey(key));
  }

  /** The first (unsigned) hash of {@code partition}'s range, inclusive. */
  public long rangeStart(int partition) {
    checkPartition(partition);
    return partitionBits == 0 ? 0L : (long) partition << (Long.SIZE - partitionBits);
  }

  /** The last (unsigned) hash of {@code partition}'s range, inclusive. */
  public long rangeEnd(int partition) {
    checkPartition(partition);
    long rangeSizeMinusOne = partitionBits == 0 ? -1L : (-1L >>> partitionBits);
    return rangeStart(partition) + rangeSizeMinusOne;
  }

  private void checkPartition(int partition) {
    if (partition < 0 || partition >= partitionCount) {
      throw new IllegalArgumentException(
          "partition " + partition + " outside [0, " + partitionCount + ")");
    }
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof PartitionLayout that && partitionCount == that.partitionCount;
  }

  @Override
  public int hashCode() {
    return partitionCount;
  }

  @Override
  public String toString() {
    return "PartitionLayout{partitions=" + partitionCount + "}";
  }
}
