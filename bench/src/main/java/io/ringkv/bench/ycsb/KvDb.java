package io.ringkv.bench.ycsb;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.Vector;
import site.ycsb.ByteIterator;
import site.ycsb.DB;
import site.ycsb.Status;

/**
 * The YCSB operations mapped onto a plain key-value store, shared by the ringkv and etcd bindings
 * so that both do exactly the same work per operation: read = get, insert = put of the encoded
 * record ({@link FieldCodec}), update = put (a read, merge and put when the update carries fewer
 * fields than the record has, as YCSB's default {@code writeallfields=false} asks), delete =
 * delete, scan = one range read from the start key limited to the record count. The YCSB table name
 * is not part of the key: each target holds one table. Failures are counted by YCSB as ERROR and
 * printed once per kind.
 */
public abstract class KvDb extends DB {
  private int fieldCount;

  /** The stored value of {@code key}, or null. */
  protected abstract byte[] get(byte[] key) throws Exception;

  protected abstract void put(byte[] key, byte[] value) throws Exception;

  protected abstract void remove(byte[] key) throws Exception;

  /** Values of at most {@code limit} keys from {@code startKey} on, in key order. */
  protected abstract List<byte[]> range(byte[] startKey, int limit) throws Exception;

  @Override
  public void init() {
    fieldCount = Integer.parseInt(getProperties().getProperty("fieldcount", "10"));
  }

  @Override
  public Status read(
      String table, String key, Set<String> fields, Map<String, ByteIterator> result) {
    try {
      byte[] value = get(bytes(key));
      if (value == null) {
        return Status.NOT_FOUND;
      }
      FieldCodec.decode(value, fields, result);
      return Status.OK;
    } catch (Exception e) {
      return failed("read", e);
    }
  }

  @Override
  public Status scan(
      String table,
      String startKey,
      int recordCount,
      Set<String> fields,
      Vector<HashMap<String, ByteIterator>> result) {
    try {
      for (byte[] value : range(bytes(startKey), recordCount)) {
        HashMap<String, ByteIterator> record = new HashMap<>();
        FieldCodec.decode(value, fields, record);
        result.add(record);
      }
      return Status.OK;
    } catch (Exception e) {
      return failed("scan", e);
    }
  }

  @Override
  public Status update(String table, String key, Map<String, ByteIterator> values) {
    try {
      byte[] keyBytes = bytes(key);
      byte[] value =
          values.size() >= fieldCount
              ? FieldCodec.encode(values)
              : FieldCodec.merge(get(keyBytes), values);
      put(keyBytes, value);
      return Status.OK;
    } catch (Exception e) {
      return failed("update", e);
    }
  }

  @Override
  public Status insert(String table, String key, Map<String, ByteIterator> values) {
    try {
      put(bytes(key), FieldCodec.encode(values));
      return Status.OK;
    } catch (Exception e) {
      return failed("insert", e);
    }
  }

  @Override
  public Status delete(String table, String key) {
    try {
      remove(bytes(key));
      return Status.OK;
    } catch (Exception e) {
      return failed("delete", e);
    }
  }

  private static final Set<String> reported = java.util.concurrent.ConcurrentHashMap.newKeySet();

  private static Status failed(String op, Exception e) {
    String kind = op + ": " + e.getClass().getSimpleName();
    if (reported.add(kind)) {
      System.err.println("first " + kind + " failure: " + e);
    }
    return Status.ERROR;
  }

  static byte[] bytes(String key) {
    return key.getBytes(StandardCharsets.UTF_8);
  }
}
