package io.ringkv.bench.compare;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.options.GetOption;
import io.ringkv.client.Consistency;
import io.ringkv.client.RingKvClient;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/** The asynchronous put and get the load drivers need, over ringkv's or etcd's Java client. */
interface KvTarget extends AutoCloseable {
  CompletableFuture<?> put(byte[] key, byte[] value);

  CompletableFuture<?> get(byte[] key, boolean linearizable);

  @Override
  void close();

  static KvTarget open(String system, List<String> endpoints) {
    return switch (system) {
      // Callbacks only record and release a slot: they may run on the transport thread.
      case "ringkv" ->
          new RingKv(RingKvClient.builder().endpoints(endpoints).directCallbacks(true).build());
      case "etcd" -> {
        Client client =
            Client.builder()
                .endpoints(endpoints.stream().map(e -> "http://" + e).toArray(String[]::new))
                .build();
        yield new Etcd(client, client.getKVClient());
      }
      default -> throw new IllegalArgumentException("target must be ringkv or etcd: " + system);
    };
  }

  record RingKv(RingKvClient client) implements KvTarget {
    @Override
    public CompletableFuture<?> put(byte[] key, byte[] value) {
      return client.put(key, value);
    }

    @Override
    public CompletableFuture<?> get(byte[] key, boolean linearizable) {
      return client.get(key, linearizable ? Consistency.LINEARIZABLE : Consistency.SERIALIZABLE);
    }

    @Override
    public void close() {
      client.close();
    }
  }

  record Etcd(Client client, KV kv) implements KvTarget {
    @Override
    public CompletableFuture<?> put(byte[] key, byte[] value) {
      return kv.put(ByteSequence.from(key), ByteSequence.from(value));
    }

    @Override
    public CompletableFuture<?> get(byte[] key, boolean linearizable) {
      return kv.get(
          ByteSequence.from(key), GetOption.builder().withSerializable(!linearizable).build());
    }

    @Override
    public void close() {
      client.close();
    }
  }
}
