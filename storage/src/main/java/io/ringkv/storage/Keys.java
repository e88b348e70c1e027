package io.ringkv.storage;

import io.ringkv.raft.Invariants;
import java.nio.ByteBuffer;

/**
 * Key layouts of every column family. Numbers are 8-byte big-endian so RocksDB's bytewise order is
 * numeric order; every key starts with the group id so one group is one contiguous range.
 *
 * <ul>
 *   <li>{@code raft_log}: group, index
 *   <li>{@code raft_state}: group, tag (one record per tag)
 *   <li>{@code data}: group, namespace byte, rest (user keys and client sessions apart)
 *   <li>{@code changes}: group, revision, ordinal within the revision (4 bytes)
 * </ul>
 */
final class Keys {
  static final byte TAG_HARD_STATE = 1;
  static final byte TAG_CONF_STATE = 2;
  static final byte TAG_APPLIED = 3;
  static final byte TAG_LOG_TRUNCATED = 4;
  static final byte TAG_SNAPSHOT = 5;
  static final byte TAG_INSTALLING = 6;
  static final byte TAG_CHANGES_FLOOR = 7;
  static final byte TAG_REPLICA_CREATED = 8;
  static final byte TAG_DESTROYING = 9;

  static final byte NAMESPACE_USER = 1;
  static final byte NAMESPACE_SESSION = 2;

  private Keys() {}

  static void checkGroup(long groupId) {
    Invariants.check(
        groupId >= 0 && groupId < Long.MAX_VALUE, "group id out of range: %d", groupId);
  }

  static byte[] group(long groupId) {
    return ByteBuffer.allocate(8).putLong(groupId).array();
  }

  /** The first key after every key of {@code groupId}. */
  static byte[] groupEnd(long groupId) {
    return group(groupId + 1);
  }

  static byte[] log(long groupId, long index) {
    return ByteBuffer.allocate(16).putLong(groupId).putLong(index).array();
  }

  static long logIndex(byte[] key) {
    return ByteBuffer.wrap(key).getLong(8);
  }

  static byte[] state(long groupId, byte tag) {
    return ByteBuffer.allocate(9).putLong(groupId).put(tag).array();
  }

  static byte[] user(long groupId, byte[] userKey) {
    return ByteBuffer.allocate(9 + userKey.length)
        .putLong(groupId)
        .put(NAMESPACE_USER)
        .put(userKey)
        .array();
  }

  static byte[] userKeyOf(byte[] dataKey) {
    byte[] userKey = new byte[dataKey.length - 9];
    System.arraycopy(dataKey, 9, userKey, 0, userKey.length);
    return userKey;
  }

  static byte[] namespace(long groupId, byte namespace) {
    return ByteBuffer.allocate(9).putLong(groupId).put(namespace).array();
  }

  static byte[] session(long groupId, long sessionId) {
    return ByteBuffer.allocate(17)
        .putLong(groupId)
        .put(NAMESPACE_SESSION)
        .putLong(sessionId)
        .array();
  }

  static byte[] change(long groupId, long revision, int ordinal) {
    return ByteBuffer.allocate(20).putLong(groupId).putLong(revision).putInt(ordinal).array();
  }

  /** The shortest key greater than every key starting with {@code prefix}, or null if none. */
  static byte[] prefixEnd(byte[] prefix) {
    byte[] end = prefix.clone();
    for (int i = end.length - 1; i >= 0; i--) {
      if (end[i] != (byte) 0xff) {
        end[i]++;
        byte[] trimmed = new byte[i + 1];
        System.arraycopy(end, 0, trimmed, 0, i + 1);
        return trimmed;
      }
    }
    return null;
  }
}
