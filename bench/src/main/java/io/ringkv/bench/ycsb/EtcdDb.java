package io.ringkv.bench.ycsb;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.options.GetOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * YCSB binding for etcd over jetcd ({@code -db io.ringkv.bench.ycsb.EtcdDb}), doing the same work
 * per operation as {@link RingKvDb}. Properties: {@code etcd.endpoints} (comma-separated
 * http://host:port, default http://127.0.0.1:2379) and {@code etcd.read} ({@code linearizable}, the
 * default, or {@code serializable}).
 */
public final class EtcdDb extends KvDb {
  private static final SharedResource<Client> CLIENT = new SharedResource<>();

  /** etcd's range end "\0": every key at or after the start key. */
  private static final ByteSequence TO_THE_END = ByteSequence.from(new byte[] {0});

  /** Per-call bound, as the ringkv client's default deadline. */
  static final long CALL_TIMEOUT_SECONDS = 10;

  private KV kv;
  private boolean serializable;

  @Override
  public void init() {
    super.init();
    String[] endpoints =
        getProperties().getProperty("etcd.endpoints", "http://127.0.0.1:2379").split(",");
    serializable = getProperties().getProperty("etcd.read", "linearizable").equals("serializable");
    kv = CLIENT.acquire(() -> Client.builder().endpoints(endpoints).build()).getKVClient();
  }

  @Override
  public void cleanup() {
    try {
      CLIENT.release();
    } catch (Exception e) {
      throw new IllegalStateException("closing the etcd client failed", e);
    }
  }

  @Override
  protected byte[] get(byte[] key) throws Exception {
    GetResponse response =
        kv.get(ByteSequence.from(key), GetOption.builder().withSerializable(serializable).build())
            .get(CALL_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    return response.getKvs().isEmpty() ? null : response.getKvs().get(0).getValue().getBytes();
  }

  @Override
  protected void put(byte[] key, byte[] value) throws Exception {
    kv.put(ByteSequence.from(key), ByteSequence.from(value))
        .get(CALL_TIMEOUT_SECONDS, TimeUnit.SECONDS);
  }

  @Override
  protected void remove(byte[] key) throws Exception {
    kv.delete(ByteSequence.from(key)).get(CALL_TIMEOUT_SECONDS, TimeUnit.SECONDS);
  }

  @Override
  protected List<byte[]> range(byte[] startKey, int limit) throws Exception {
    GetOption option =
        GetOption.builder()
            .withRange(TO_THE_END)
            .withLimit(limit)
            .withSerializable(serializable)
            .build();
    GetResponse response =
        kv.get(ByteSequence.from(startKey), option).get(CALL_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    List<byte[]> values = new ArrayList<>(response.getKvs().size());
    for (KeyValue pair : response.getKvs()) {
      values.add(pair.getValue().getBytes());
    }
    return values;
  }
}
