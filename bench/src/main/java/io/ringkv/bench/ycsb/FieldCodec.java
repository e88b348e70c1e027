package io.ringkv.bench.ycsb;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import site.ycsb.ByteArrayByteIterator;
import site.ycsb.ByteIterator;

/**
 * Encodes a YCSB record (field name to value) into one stored value, the same way for every target
 * so that both systems store the same bytes. Fields are written in name order (so equal records
 * encode to equal bytes): a 4-byte big-endian field count, then per field a 4-byte name length, the
 * UTF-8 name, a 4-byte value length and the value.
 */
public final class FieldCodec {
  /** A record larger than this is malformed (YCSB's defaults give about 1 KiB). */
  static final int RECORD_SIZE_BYTES_MAX = 16 * 1024 * 1024;

  private FieldCodec() {}

  public static byte[] encode(Map<String, ByteIterator> fields) {
    SortedMap<String, byte[]> sorted = new TreeMap<>();
    for (Map.Entry<String, ByteIterator> field : fields.entrySet()) {
      sorted.put(field.getKey(), field.getValue().toArray());
    }
    return encodeBytes(sorted);
  }

  static byte[] encodeBytes(SortedMap<String, byte[]> fields) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    writeInt(out, fields.size());
    for (Map.Entry<String, byte[]> field : fields.entrySet()) {
      byte[] name = field.getKey().getBytes(StandardCharsets.UTF_8);
      writeInt(out, name.length);
      out.writeBytes(name);
      writeInt(out, field.getValue().length);
      out.writeBytes(field.getValue());
    }
    return out.toByteArray();
  }

  /**
   * Decodes {@code value} into {@code result}, keeping only {@code wanted} fields (null: all).
   *
   * @throws IllegalArgumentException if the bytes are not an encoded record
   */
  public static void decode(byte[] value, Set<String> wanted, Map<String, ByteIterator> result) {
    if (value.length > RECORD_SIZE_BYTES_MAX) {
      throw new IllegalArgumentException("record of " + value.length + " bytes is too large");
    }
    ByteBuffer in = ByteBuffer.wrap(value);
    int count = readLength(in);
    for (int i = 0; i < count; i++) {
      byte[] name = new byte[readLength(in)];
      in.get(name);
      byte[] fieldValue = new byte[readLength(in)];
      in.get(fieldValue);
      String fieldName = new String(name, StandardCharsets.UTF_8);
      if (wanted == null || wanted.contains(fieldName)) {
        result.put(fieldName, new ByteArrayByteIterator(fieldValue));
      }
    }
    if (in.hasRemaining()) {
      throw new IllegalArgumentException(in.remaining() + " trailing bytes after the record");
    }
  }

  /** {@code current} (an encoded record) with {@code updates} laid over it, encoded again. */
  public static byte[] merge(byte[] current, Map<String, ByteIterator> updates) {
    Map<String, ByteIterator> fields = new HashMap<>();
    if (current != null) {
      decode(current, null, fields);
    }
    fields.putAll(updates);
    return encode(fields);
  }

  private static int readLength(ByteBuffer in) {
    if (in.remaining() < Integer.BYTES) {
      throw new IllegalArgumentException("record truncated");
    }
    int length = in.getInt();
    if (length < 0 || length > in.remaining()) {
      throw new IllegalArgumentException("bad length " + length + " in record");
    }
    return length;
  }

  private static void writeInt(ByteArrayOutputStream out, int value) {
    out.write(value >>> 24);
    out.write(value >>> 16);
    out.write(value >>> 8);
    out.write(value);
  }
}
