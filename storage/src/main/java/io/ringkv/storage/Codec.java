package io.ringkv.storage;

import io.ringkv.raft.ConfState;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.util.Set;
import java.util.TreeSet;
import java.util.zip.CRC32C;

/**
 * Value framing: every stored value is {@code crc32c(key ++ payload)} (4 bytes) followed by the
 * payload. The key is inside the checksum so a value found under the wrong key is also caught. A
 * mismatch on read throws {@link CorruptDataException}: data is checked before it is trusted.
 */
final class Codec {
  private Codec() {}

  static byte[] seal(byte[] key, ByteBuffer payload) {
    payload.flip();
    int length = payload.remaining();
    byte[] value = new byte[4 + length];
    payload.get(value, 4, length);
    int crc = crc(key, value, 4, length);
    ByteBuffer.wrap(value).putInt(0, crc);
    return value;
  }

  /** The payload of {@code value} after its checksum was verified. */
  static ByteBuffer open(byte[] key, byte[] value, String what) {
    if (value.length < 4) {
      throw new CorruptDataException(what + ": value of " + value.length + " bytes is truncated");
    }
    int expected = ByteBuffer.wrap(value).getInt(0);
    int actual = crc(key, value, 4, value.length - 4);
    if (expected != actual) {
      throw new CorruptDataException(
          what
              + ": checksum mismatch (stored "
              + hex(expected)
              + ", computed "
              + hex(actual)
              + ")");
    }
    return ByteBuffer.wrap(value, 4, value.length - 4).slice();
  }

  /** Runs a decoder over a verified payload; a short or malformed payload is corruption too. */
  static <T> T decode(byte[] key, byte[] value, String what, Decoder<T> decoder) {
    ByteBuffer payload = open(key, value, what);
    try {
      T result = decoder.decode(payload);
      if (payload.hasRemaining()) {
        throw new CorruptDataException(what + ": " + payload.remaining() + " trailing bytes");
      }
      return result;
    } catch (BufferUnderflowException | IllegalArgumentException | IllegalStateException e) {
      throw new CorruptDataException(what + ": undecodable payload (" + e.getMessage() + ")");
    }
  }

  interface Decoder<T> {
    T decode(ByteBuffer payload);
  }

  static int crc(byte[] key, byte[] data, int offset, int length) {
    CRC32C crc = new CRC32C();
    crc.update(key);
    crc.update(data, offset, length);
    return (int) crc.getValue();
  }

  static int crc(byte[] data) {
    CRC32C crc = new CRC32C();
    crc.update(data);
    return (int) crc.getValue();
  }

  static String hex(int value) {
    return String.format("%08x", value);
  }

  static int confStateSizeBytes(ConfState conf) {
    return 4 * 4
        + 8
            * (conf.voters().size()
                + conf.learners().size()
                + conf.votersOutgoing().size()
                + conf.learnersNext().size())
        + 1;
  }

  static void putConfState(ByteBuffer out, ConfState conf) {
    putIds(out, conf.voters());
    putIds(out, conf.learners());
    putIds(out, conf.votersOutgoing());
    putIds(out, conf.learnersNext());
    out.put((byte) (conf.autoLeave() ? 1 : 0));
  }

  static ConfState getConfState(ByteBuffer in) {
    Set<Long> voters = getIds(in);
    Set<Long> learners = getIds(in);
    Set<Long> outgoing = getIds(in);
    Set<Long> next = getIds(in);
    return new ConfState(voters, learners, outgoing, next, in.get() == 1);
  }

  private static void putIds(ByteBuffer out, Set<Long> ids) {
    out.putInt(ids.size());
    for (long id : ids) {
      out.putLong(id);
    }
  }

  private static Set<Long> getIds(ByteBuffer in) {
    int count = in.getInt();
    if (count < 0 || count > in.remaining() / 8) {
      throw new IllegalArgumentException("member count " + count);
    }
    Set<Long> ids = new TreeSet<>();
    for (int i = 0; i < count; i++) {
      ids.add(in.getLong());
    }
    return ids;
  }

  static byte[] getBytes(ByteBuffer in) {
    int length = in.getInt();
    if (length < 0 || length > in.remaining()) {
      throw new IllegalArgumentException("length " + length);
    }
    byte[] bytes = new byte[length];
    in.get(bytes);
    return bytes;
  }

  static void putBytes(ByteBuffer out, byte[] bytes) {
    out.putInt(bytes.length).put(bytes);
  }
}
