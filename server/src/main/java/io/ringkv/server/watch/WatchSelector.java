package io.ringkv.server.watch;

import io.ringkv.raft.Invariants;
import io.ringkv.storage.ScanRange;
import java.util.Arrays;

/**
 * Which keys a stream watches: one key, every key with a prefix, or every key. Pure.
 *
 * <p>Keys are hashed onto partitions, so a prefix or "all" selects keys in every partition; only a
 * single key pins the stream to one partition.
 */
sealed interface WatchSelector {
  boolean matches(byte[] key);

  /** The keys of the snapshot phase, in key order. */
  ScanRange range();

  /** Exactly one key. */
  record Key(byte[] key) implements WatchSelector {
    public Key {
      Invariants.check(key.length >= 1, "a watched key must not be empty");
    }

    @Override
    public boolean matches(byte[] candidate) {
      return Arrays.equals(key, candidate);
    }

    @Override
    public ScanRange range() {
      byte[] end = Arrays.copyOf(key, key.length + 1);
      return ScanRange.between(key, end);
    }
  }

  /** Every key starting with {@code prefix}; an empty prefix selects every key. */
  record Prefix(byte[] prefix) implements WatchSelector {
    @Override
    public boolean matches(byte[] candidate) {
      return candidate.length >= prefix.length
          && Arrays.equals(candidate, 0, prefix.length, prefix, 0, prefix.length);
    }

    @Override
    public ScanRange range() {
      return ScanRange.prefix(prefix);
    }
  }

  /** The selector that matches every key. */
  static WatchSelector all() {
    return new Prefix(new byte[0]);
  }
}
