/**
 * ringkv's storage engine: one RocksDB instance per node shared by every Raft group on it.
 *
 * <p>Entry point: {@link io.ringkv.storage.StorageEngine#open} with {@link
 * io.ringkv.storage.StorageOptions}. Per group it hands out the Raft log ({@link
 * io.ringkv.storage.RaftLogStore}, written through the {@link io.ringkv.storage.GroupCommitter}
 * with one fsync for many groups), the partition state machine ({@link
 * io.ringkv.storage.PartitionStore}: user data, sessions, applied state, snapshots as SST files)
 * and the changefeed ({@link io.ringkv.storage.ChangefeedLog}).
 *
 * <p>Durability: only log writes are fsynced; applies are not, since the log is the durability
 * point and a restarted node re-applies from its applied index. Every stored value carries a CRC32C
 * (over key and value) that is checked on every read. Every failure is a {@link
 * io.ringkv.storage.StorageException}.
 */
package io.ringkv.storage;
