package io.ringkv.routing;

/**
 * Hashes keys onto ringkv's 64-bit hash space. Client and server share this class, so both agree on
 * which partition owns a key.
 *
 * <p><b>Fixed forever.</b> The hash of a key decides where its data lives on disk in every cluster
 * ever created. Changing a single bit of this function (the algorithm, the seed, the byte order, or
 * the hash-tag rule) would send requests to partitions that do not hold the keys. Never change it;
 * a different function would need a new, explicitly versioned layout.
 *
 * <p>The function is xxHash64 with seed 0, written from the published algorithm description, over
 * the key bytes, except that a key holding a <em>hash tag</em> hashes only the tag: if the key
 * contains a {@code '{'} and, somewhere after the first {@code '{'}, a {@code '}'}, and the bytes
 * between that first {@code '{'} and the first {@code '}'} after it are not empty, only those bytes
 * are hashed. So {@code user:{42}:name} and {@code user:{42}:email} share a partition, as in Redis
 * Cluster. {@code {}x} and {@code x{} } have no tag and hash whole.
 */
public final class KeyHasher {
  /** The xxHash64 seed ringkv uses. Fixed forever. */
  public static final long SEED = 0L;

  private static final long PRIME_1 = 0x9E3779B185EBCA87L;
  private static final long PRIME_2 = 0xC2B2AE3D27D4EB4FL;
  private static final long PRIME_3 = 0x165667B19E3779F9L;
  private static final long PRIME_4 = 0x85EBCA77C2B2AE63L;
  private static final long PRIME_5 = 0x27D4EB2F165667C5L;
  private static final int STRIPE_SIZE_BYTES = 32;

  private KeyHasher() {}

  /** The 64-bit hash of a key, honouring a hash tag. Treat the result as unsigned. */
  public static long hashKey(byte[] key) {
    if (key == null) {
      throw new IllegalArgumentException("key must not be null");
    }
    int open = indexOf(key, (byte) '{', 0);
    if (open >= 0) {
      int close = indexOf(key, (byte) '}', open + 1);
      if (close > open + 1) {
        return xxHash64(key, open + 1, close - open - 1);
      }
    }
    return xxHash64(key, 0, key.length);
  }

  /** xxHash64 with seed 0 over all of {@code data} (no hash-tag rule). */
  public static long xxHash64(byte[] data) {
    return xxHash64(data, 0, data.length);
  }

  /** xxHash64 with seed 0 over {@code data[offset, offset + length)} (no hash-tag rule). */
  public static long xxHash64(byte[] data, int offset, int length) {
    if (offset < 0 || length < 0 || offset > data.length - length) {
      throw new IndexOutOfBoundsException(
          "range [" + offset + ", " + offset + "+" + length + ") outside " + data.length);
    }
    int position = offset;
    int end = offset + length;
    long hash;
    if (length >= STRIPE_SIZE_BYTES) {
      long accumulator1 = SEED + PRIME_1 + PRIME_2;
      long accumulator2 = SEED + PRIME_2;
      long accumulator3 = SEED;
      long accumulator4 = SEED - PRIME_1;
      int stripesEnd = end - STRIPE_SIZE_BYTES;
      while (position <= stripesEnd) {
        accumulator1 = round(accumulator1, readLong(data, position));
        accumulator2 = round(accumulator2, readLong(data, position + 8));
        accumulator3 = round(accumulator3, readLong(data, position + 16));
        accumulator4 = round(accumulator4, readLong(data, position + 24));
        position += STRIPE_SIZE_BYTES;
      }
      hash =
          Long.rotateLeft(accumulator1, 1)
              + Long.rotateLeft(accumulator2, 7)
              + Long.rotateLeft(accumulator3, 12)
              + Long.rotateLeft(accumulator4, 18);
      hash = mergeAccumulator(hash, accumulator1);
      hash = mergeAccumulator(hash, accumulator2);
      hash = mergeAccumulator(hash, accumulator3);
      hash = mergeAccumulator(hash, accumulator4);
    } else {
      hash = SEED + PRIME_5;
    }
    hash += length;
    while (position + 8 <= end) {
      hash ^= round(0, readLong(data, position));
      hash = Long.rotateLeft(hash, 27) * PRIME_1 + PRIME_4;
      position += 8;
    }
    if (position + 4 <= end) {
      hash ^= (readInt(data, position) & 0xFFFFFFFFL) * PRIME_1;
      hash = Long.rotateLeft(hash, 23) * PRIME_2 + PRIME_3;
      position += 4;
    }
    while (position < end) {
      hash ^= (data[position] & 0xFFL) * PRIME_5;
      hash = Long.rotateLeft(hash, 11) * PRIME_1;
      position++;
    }
    return avalanche(hash);
  }

  private static long round(long accumulator, long input) {
    accumulator += input * PRIME_2;
    accumulator = Long.rotateLeft(accumulator, 31);
    return accumulator * PRIME_1;
  }

  private static long mergeAccumulator(long hash, long accumulator) {
    hash ^= round(0, accumulator);
    return hash * PRIME_1 + PRIME_4;
  }

  private static long avalanche(long hash) {
    hash ^= hash >>> 33;
    hash *= PRIME_2;
    hash ^= hash >>> 29;
    hash *= PRIME_3;
    hash ^= hash >>> 32;
    return hash;
  }

  /** Little-endian, as the algorithm specifies, whatever the platform. */
  private static long readLong(byte[] data, int position) {
    return (readInt(data, position) & 0xFFFFFFFFL) | ((long) readInt(data, position + 4) << 32);
  }

  private static int readInt(byte[] data, int position) {
    return (data[position] & 0xFF)
        | (data[position + 1] & 0xFF) << 8
        | (data[position + 2] & 0xFF) << 16
        | (data[position + 3] & 0xFF) << 24;
  }

  private static int indexOf(byte[] data, byte wanted, int from) {
    for (int i = from; i < data.length; i++) {
      if (data[i] == wanted) {
        return i;
      }
    }
    return -1;
  }
}
