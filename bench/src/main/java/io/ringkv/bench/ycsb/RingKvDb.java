package io.ringkv.bench.ycsb;

import io.ringkv.client.BlockingRingKvClient;
import io.ringkv.client.Consistency;
import io.ringkv.client.Entry;
import io.ringkv.client.RingKvClient;
import io.ringkv.client.ScanQuery;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * YCSB binding for ringkv over the Java client ({@code -db io.ringkv.bench.ycsb.RingKvDb}).
 * Properties: {@code ringkv.endpoints} (comma-separated host:port, default 127.0.0.1:7379) and
 * {@code ringkv.read} ({@code linearizable}, the default, or {@code serializable}).
 */
public final class RingKvDb extends KvDb {
  private static final SharedResource<RingKvClient> CLIENT = new SharedResource<>();
  private static final byte[] TO_THE_END = new byte[0];

  private RingKvClient client;
  private Consistency consistency;

  @Override
  public void init() {
    super.init();
    String[] endpoints =
        getProperties().getProperty("ringkv.endpoints", "127.0.0.1:7379").split(",");
    consistency =
        Consistency.valueOf(
            getProperties()
                .getProperty("ringkv.read", "linearizable")
                .toUpperCase(java.util.Locale.ROOT));
    // YCSB threads wait on the blocking facade; nothing blocks on the transport thread.
    client =
        CLIENT.acquire(
            () -> RingKvClient.builder().endpoints(endpoints).directCallbacks(true).build());
  }

  @Override
  public void cleanup() {
    try {
      CLIENT.release();
    } catch (Exception e) {
      throw new IllegalStateException("closing the ringkv client failed", e);
    }
  }

  @Override
  protected byte[] get(byte[] key) {
    Optional<Entry> entry = BlockingRingKvClient.await(client.get(key, consistency));
    return entry.map(Entry::value).orElse(null);
  }

  @Override
  protected void put(byte[] key, byte[] value) {
    BlockingRingKvClient.await(client.put(key, value));
  }

  @Override
  protected void remove(byte[] key) {
    BlockingRingKvClient.await(client.delete(key));
  }

  @Override
  protected List<byte[]> range(byte[] startKey, int limit) {
    ScanQuery query =
        ScanQuery.range(startKey, TO_THE_END).withPageSize(limit).withConsistency(consistency);
    List<Entry> entries = BlockingRingKvClient.await(client.scanPage(query, null)).entries();
    List<byte[]> values = new ArrayList<>(Math.min(limit, entries.size()));
    for (int i = 0; i < entries.size() && i < limit; i++) {
      values.add(entries.get(i).value());
    }
    return values;
  }
}
