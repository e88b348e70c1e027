package io.ringkv.client;

import java.util.Arrays;

/**
 * What to scan: every key with a prefix, or the keys of a half-open range [start, end). The node
 * merges partitions, so results come in key order. Results are fetched a page at a time ({@link
 * #withPageSize}); a scan never holds more than a page in memory.
 */
public final class ScanQuery {
  private final byte[] prefix;
  private final byte[] startKey;
  private final byte[] endKey;
  private final int pageSize;
  private final Consistency consistency;
  private final boolean keysOnly;

  private ScanQuery(
      byte[] prefix,
      byte[] startKey,
      byte[] endKey,
      int pageSize,
      Consistency consistency,
      boolean keysOnly) {
    this.prefix = prefix;
    this.startKey = startKey;
    this.endKey = endKey;
    this.pageSize = pageSize;
    this.consistency = consistency;
    this.keysOnly = keysOnly;
  }

  /** Every key that starts with {@code prefix} (an empty prefix: every key). */
  public static ScanQuery prefix(byte[] prefix) {
    if (prefix == null) {
      throw new IllegalArgumentException("prefix must not be null");
    }
    return new ScanQuery(prefix.clone(), null, null, 0, Consistency.LINEARIZABLE, false);
  }

  /** Keys in [startKey, endKey); an empty {@code endKey} means "to the last key". */
  public static ScanQuery range(byte[] startKey, byte[] endKey) {
    if (startKey == null || endKey == null) {
      throw new IllegalArgumentException("range bounds must not be null (use an empty end key)");
    }
    if (endKey.length > 0 && Arrays.compareUnsigned(startKey, endKey) > 0) {
      throw new IllegalArgumentException("range start key is after its end key");
    }
    return new ScanQuery(
        null, startKey.clone(), endKey.clone(), 0, Consistency.LINEARIZABLE, false);
  }

  /** Pairs per page; 0 (the default) lets the node choose. */
  public ScanQuery withPageSize(int pageSize) {
    if (pageSize < 0) {
      throw new IllegalArgumentException("page size must be >= 0, got " + pageSize);
    }
    return new ScanQuery(prefix, startKey, endKey, pageSize, consistency, keysOnly);
  }

  public ScanQuery withConsistency(Consistency consistency) {
    if (consistency == null) {
      throw new IllegalArgumentException("consistency must not be null");
    }
    return new ScanQuery(prefix, startKey, endKey, pageSize, consistency, keysOnly);
  }

  /** Fetch keys and revisions without values. */
  public ScanQuery keysOnly() {
    return new ScanQuery(prefix, startKey, endKey, pageSize, consistency, true);
  }

  int pageSize() {
    return pageSize;
  }

  Consistency consistency() {
    return consistency;
  }

  boolean isKeysOnly() {
    return keysOnly;
  }

  boolean isPrefix() {
    return prefix != null;
  }

  byte[] prefixBytes() {
    return prefix;
  }

  byte[] startKey() {
    return startKey;
  }

  byte[] endKey() {
    return endKey;
  }

  /**
   * The smallest key after every key with {@code prefix}: the prefix with its last byte below 0xff
   * incremented and the rest dropped; empty ("to the end") when there is none.
   */
  static byte[] prefixEnd(byte[] prefix) {
    for (int i = prefix.length - 1; i >= 0; i--) {
      if ((prefix[i] & 0xff) != 0xff) {
        byte[] end = Arrays.copyOf(prefix, i + 1);
        end[i]++;
        return end;
      }
    }
    return new byte[0];
  }
}
