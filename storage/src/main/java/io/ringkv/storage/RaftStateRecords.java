package io.ringkv.storage;

import io.ringkv.raft.HardState;
import io.ringkv.raft.SnapshotMetadata;
import java.nio.ByteBuffer;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDBException;

/** Decoders of the per-group records in {@code raft_state}; each read verifies the checksum. */
final class RaftStateRecords {
  private RaftStateRecords() {}

  /** The record {@code tag} of {@code groupId}, decoded, or null if absent. */
  static <T> T read(Store store, long groupId, byte tag, Codec.Decoder<T> decoder) {
    byte[] key = Keys.state(groupId, tag);
    return decode(groupId, tag, key, store.get(store.raftState, key), decoder);
  }

  /** As {@link #read(Store, long, byte, Codec.Decoder)}, from the snapshot of {@code options}. */
  static <T> T readAt(
      Store store, ReadOptions options, long groupId, byte tag, Codec.Decoder<T> decoder) {
    byte[] key = Keys.state(groupId, tag);
    try {
      return decode(groupId, tag, key, store.db.get(store.raftState, options, key), decoder);
    } catch (RocksDBException e) {
      throw store.failure("read raft state", e);
    }
  }

  private static <T> T decode(
      long groupId, byte tag, byte[] key, byte[] value, Codec.Decoder<T> decoder) {
    if (value == null) {
      return null;
    }
    return Codec.decode(key, value, "raft state group " + groupId + " tag " + tag, decoder);
  }

  static HardState hardState(ByteBuffer in) {
    return new HardState(in.getLong(), in.getLong(), in.getLong());
  }

  static LogState position(ByteBuffer in) {
    long index = in.getLong();
    long term = in.getLong();
    return new LogState(index, term, index);
  }

  static SnapshotMetadata snapshot(ByteBuffer in) {
    long index = in.getLong();
    long term = in.getLong();
    return new SnapshotMetadata(index, term, Codec.getConfState(in));
  }
}
