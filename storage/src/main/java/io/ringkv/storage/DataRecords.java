package io.ringkv.storage;

import java.nio.ByteBuffer;

/**
 * Encodings of the {@code data} and {@code changes} records; every value is sealed by {@link
 * Codec}.
 */
final class DataRecords {
  private static final int STORED_HEADER_BYTES = 3 * 8;

  /** Change record flags: a new value, a previous value, a logical HLC counter (at the end). */
  private static final int CHANGE_HAS_VALUE = 1;

  private static final int CHANGE_HAS_PREVIOUS = 2;
  private static final int CHANGE_HAS_HLC_LOGICAL = 4;

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
    // A record without a logical counter keeps the format of format version 1, byte for byte.
    boolean hasLogical = change.hlcLogical() != 0;
    size += hasLogical ? 4 : 0;
    ByteBuffer payload = ByteBuffer.allocate(size);
    payload.putLong(change.timestampMillis());
    Codec.putBytes(payload, change.key());
    payload.put(
        (byte)
            ((change.value() == null ? 0 : CHANGE_HAS_VALUE)
                | (change.previous() == null ? 0 : CHANGE_HAS_PREVIOUS)
                | (hasLogical ? CHANGE_HAS_HLC_LOGICAL : 0)));
    putOptional(payload, change.value());
    putOptional(payload, change.previous());
    if (hasLogical) {
      payload.putInt(change.hlcLogical());
    }
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
          if ((flags & ~(CHANGE_HAS_VALUE | CHANGE_HAS_PREVIOUS | CHANGE_HAS_HLC_LOGICAL)) != 0) {
            throw new IllegalArgumentException("unknown change flags " + flags);
          }
          StoredValue now = (flags & CHANGE_HAS_VALUE) != 0 ? getOptional(in) : null;
          StoredValue before = (flags & CHANGE_HAS_PREVIOUS) != 0 ? getOptional(in) : null;
          int logical = (flags & CHANGE_HAS_HLC_LOGICAL) != 0 ? in.getInt() : 0;
          return new ChangeRecord(revision, ordinal, timestamp, userKey, now, before, logical);
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
