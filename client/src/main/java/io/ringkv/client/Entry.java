package io.ringkv.client;

import com.google.protobuf.ByteString;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A key, its value and its revisions. Revisions are per partition: {@code modRevision} is the Raft
 * log index of the write that last changed the key, {@code version} counts writes since the key was
 * (re)created (1 after the first put). The arrays are copies; changing them changes nothing else.
 */
public record Entry(byte[] key, byte[] value, long createRevision, long modRevision, long version) {
  public Entry {
    key = key.clone();
    value = value.clone();
  }

  static Entry of(ByteString key, ByteString value, long create, long mod, long version) {
    return new Entry(key.toByteArray(), value.toByteArray(), create, mod, version);
  }

  static Entry of(io.ringkv.proto.v1.KeyValue kv) {
    return of(
        kv.getKey(), kv.getValue(), kv.getCreateRevision(), kv.getModRevision(), kv.getVersion());
  }

  @Override
  public byte[] key() {
    return key.clone();
  }

  @Override
  public byte[] value() {
    return value.clone();
  }

  /** The key decoded as UTF-8. */
  public String keyUtf8() {
    return new String(key, StandardCharsets.UTF_8);
  }

  /** The value decoded as UTF-8. */
  public String valueUtf8() {
    return new String(value, StandardCharsets.UTF_8);
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof Entry that
        && Arrays.equals(key, that.key)
        && Arrays.equals(value, that.value)
        && createRevision == that.createRevision
        && modRevision == that.modRevision
        && version == that.version;
  }

  @Override
  public int hashCode() {
    return 31 * Arrays.hashCode(key) + Arrays.hashCode(value) + Long.hashCode(modRevision);
  }

  @Override
  public String toString() {
    return "Entry{key=" + keyUtf8() + ", modRevision=" + modRevision + ", version=" + version + "}";
  }
}
