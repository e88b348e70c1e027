package io.ringkv.storage;

import io.ringkv.raft.Invariants;

/** One change to a user key, at the revision (log index) of the entry that carries it. */
public sealed interface Mutation {
  byte[] key();

  long revision();

  /** Sets {@code key} to {@code value}. */
  record Put(byte[] key, byte[] value, long revision) implements Mutation {
    public Put {
      Invariants.check(key != null && value != null, "put key and value must not be null");
      Invariants.check(revision >= 1, "revision must be >= 1, got %d", revision);
    }
  }

  /** Removes {@code key}; deleting an absent key changes nothing and records no change. */
  record Delete(byte[] key, long revision) implements Mutation {
    public Delete {
      Invariants.check(key != null, "delete key must not be null");
      Invariants.check(revision >= 1, "revision must be >= 1, got %d", revision);
    }
  }
}
