package io.ringkv.raft;

/**
 * A point-in-time image of a group's state machine. The core treats {@code data} as opaque; the
 * storage and server layers decide what it holds (for example a reference to SST files streamed
 * separately).
 */
public record Snapshot(SnapshotMetadata metadata, byte[] data) {
  public static final Snapshot EMPTY = new Snapshot(SnapshotMetadata.EMPTY, new byte[0]);

  public Snapshot {
    Invariants.check(metadata != null && data != null, "snapshot parts must not be null");
  }

  public boolean isEmpty() {
    return metadata.index() == 0;
  }
}
