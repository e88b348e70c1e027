package io.ringkv.storage;

import java.nio.ByteBuffer;

/**
 * Encodings of the {@code data} and {@code changes} records; every value is sealed by {@link
 * Codec}.
 */
final class DataRecords {
  private static final int STORED_HEADER_BYTES = 3 * 8;

  private DataRecords() {}

  static byte[] encodeValue(byte[] key, StoredValue stored) {
    ByteBuffer payload = ByteBuffer.allocate(STORED_HEADER_BYTES + stored.value().length);
    putStored(payload, stored);
    return Codec.seal(key, payload);
  }

  static StoredValue decodeValue(long groupId, byte[] key, byte[] value) {
    return Codec.decode(key, value, "data of group " + groupId, DataRecords::getStored);
  }

  static byte[] encodeSession(byte[] key, SessionRecord session) {
    ByteBuffer payload = ByteBuffer.allocate(8 + session.response().length);
    payload.putLong(session.lastSequence()).put(session.response());
    return Codec.seal(key, payload);
  }

  static SessionRecord decodeSession(long groupId, long sessionId, byte[] key, byte[] value) {
    return Codec.decode(
        key,
        value,
        "session " + sessionId + " of group " + groupId,
        in -> {
          long sequence = in.getLong();
          byte[] response = new byte[in.remaining()];
          in.get(response);
          return new SessionRecord(sessionId, sequence, response);
        });
  }

  static byte[] encodeChange(byte[] key, ChangeRecord change) {
    int size = 8 + 4 + change.key().length + 1;
    size += change.value() == null ? 0 : 4 + STORED_HEADER_BYTES + change.value().value().length;
    size +=
        change.previous() == null ? 0 : 4 + STORED_HEADER_BYTES + change.previous().value().length;
    ByteBuffer payload = ByteBuffer.allocate(size);
    payload.putLong(change.timestampMillis());
    Codec.putBytes(payload, change.key());
    payload.put((byte) ((change.value() == null ? 0 : 1) | (change.previous() == null ? 0 : 2)));
    putOptional(payload, change.value());
    putOptional(payload, change.previous());
    return Codec.seal(key, payload);
  }

  static ChangeRecord decodeChange(long groupId, byte[] key, byte[] value) {
    ByteBuffer position = ByteBuffer.wrap(key);
    long revision = position.getLong(8);
    int ordinal = position.getInt(16);
    return Codec.decode(
        key,
        value,
        "change " + revision + "/" + ordinal + " of group " + groupId,
        in -> {
          long timestamp = in.getLong();
          byte[] userKey = Codec.getBytes(in);
          byte flags = in.get();
          StoredValue now = (flags & 1) != 0 ? getOptional(in) : null;
          StoredValue before = (flags & 2) != 0 ? getOptional(in) : null;
          return new ChangeRecord(revision, ordinal, timestamp, userKey, now, before);
        });
  }

  private static void putOptional(ByteBuffer out, StoredValue stored) {
    if (stored != null) {
      out.putInt(STORED_HEADER_BYTES + stored.value().length);
      putStored(out, stored);
    }
  }

  private static StoredValue getOptional(ByteBuffer in) {
    int length = in.getInt();
    if (length < STORED_HEADER_BYTES || length > in.remaining()) {
      throw new IllegalArgumentException("stored value length " + length);
    }
    ByteBuffer slice = in.slice(in.position(), length);
    in.position(in.position() + length);
    return getStored(slice);
  }

  private static void putStored(ByteBuffer out, StoredValue stored) {
    out.putLong(stored.createRevision()).putLong(stored.modRevision()).putLong(stored.version());
    out.put(stored.value());
  }

  private static StoredValue getStored(ByteBuffer in) {
    long create = in.getLong();
    long mod = in.getLong();
    long version = in.getLong();
    byte[] bytes = new byte[in.remaining()];
    in.get(bytes);
    return new StoredValue(bytes, create, mod, version);
  }

  static byte[] encodeApplied(byte[] key, AppliedState applied) {
    ByteBuffer payload = ByteBuffer.allocate(16 + Codec.confStateSizeBytes(applied.confState()));
    payload.putLong(applied.index()).putLong(applied.term());
    Codec.putConfState(payload, applied.confState());
    return Codec.seal(key, payload);
  }

  static AppliedState applied(ByteBuffer in) {
    long index = in.getLong();
    long term = in.getLong();
    return new AppliedState(index, term, Codec.getConfState(in));
  }
}
