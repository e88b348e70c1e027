package io.ringkv.storage;

import io.ringkv.raft.Invariants;

/**
 * User keys {@code [start, end)} in byte order; {@code end == null} means to the last key.
 *
 * @param start the first key (inclusive)
 * @param end the bound (exclusive), or null for no bound
 */
public record ScanRange(byte[] start, byte[] end) {
  public ScanRange {
    Invariants.check(start != null, "scan start must not be null");
  }

  /** Every key that starts with {@code prefix} (every key for an empty prefix). */
  public static ScanRange prefix(byte[] prefix) {
    return new ScanRange(prefix, Keys.prefixEnd(prefix));
  }

  public static ScanRange between(byte[] start, byte[] end) {
    return new ScanRange(start, end);
  }
}
