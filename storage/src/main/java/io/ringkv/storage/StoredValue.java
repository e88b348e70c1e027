package io.ringkv.storage;

import io.ringkv.raft.Invariants;
import java.util.Arrays;

/**
 * A user value with its etcd-style bookkeeping.
 *
 * @param value the bytes (owned by this record once constructed)
 * @param createRevision revision of the put that created the key (since its last delete)
 * @param modRevision revision of the last put
 * @param version number of puts since creation, 1 for a new key
 */
public record StoredValue(byte[] value, long createRevision, long modRevision, long version) {
  public StoredValue {
    Invariants.check(value != null, "value must not be null");
    Invariants.check(
        createRevision >= 1 && modRevision >= createRevision && version >= 1,
        "bad revisions: create %d, mod %d, version %d",
        createRevision,
        modRevision,
        version);
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof StoredValue that
        && Arrays.equals(value, that.value)
        && createRevision == that.createRevision
        && modRevision == that.modRevision
        && version == that.version;
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(value) * 31 + Long.hashCode(modRevision);
  }

  @Override
  public String toString() {
    return "StoredValue{bytes="
        + value.length
        + ", create="
        + createRevision
        + ", mod="
        + modRevision
        + ", version="
        + version
        + "}";
  }
}
