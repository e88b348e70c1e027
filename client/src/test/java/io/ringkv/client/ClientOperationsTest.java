package io.ringkv.client;

import static org.assertj.core.api.Assertions.assertThat;

import io.ringkv.proto.v1.ScanRequest;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Proves the client's operations end to end over gRPC against {@link InMemoryKv}: not-found is an
 * empty Optional; put/delete/compare-and-set/txn results; and that a scan is fetched lazily, one
 * page per request, continuing a prefix scan as the equivalent range from the page's next key.
 */
class ClientOperationsTest {
  private InMemoryKv kv;
  private RingKvClient client;

  @BeforeEach
  void start() throws Exception {
    kv = new InMemoryKv();
    client = RingKvClient.builder().endpoints(kv.start()).build();
  }

  @AfterEach
  void stop() {
    client.close();
    kv.close();
  }

  static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void readsAndWrites() {
    BlockingRingKvClient blocking = client.blocking();
    assertThat(blocking.get("k")).isEmpty();
    PutResult first = blocking.put("k", "v1");
    Optional<Entry> read = blocking.get("k");
    assertThat(read).get().extracting(Entry::valueUtf8).isEqualTo("v1");
    assertThat(read.get().version()).isEqualTo(1);
    assertThat(read.get().modRevision()).isEqualTo(first.revision());
    assertThat(read.get().keyUtf8()).isEqualTo("k");

    assertThat(blocking.compareAndSet(bytes("k"), bytes("nope"), bytes("v2"))).isFalse();
    assertThat(blocking.compareAndSet(bytes("k"), bytes("v1"), bytes("v2"))).isTrue();
    assertThat(blocking.compareAndSet(bytes("new"), null, bytes("x"))).isTrue();
    assertThat(blocking.compareAndSet(bytes("new"), null, bytes("y"))).isFalse();

    TxnResult txn =
        blocking.commit(
            client
                .txn()
                .ifVersionEquals(bytes("k"), 2)
                .thenPut(bytes("k"), bytes("v3"))
                .thenGet(bytes("k")));
    assertThat(txn.succeeded()).isTrue();
    assertThat(txn.results()).hasSize(2);
    assertThat(((TxnResult.GetResult) txn.results().get(1)).entry())
        .get()
        .extracting(Entry::valueUtf8)
        .isEqualTo("v3");

    assertThat(blocking.delete("k").deleted()).isTrue();
    assertThat(blocking.delete("k").deleted()).isFalse();
    assertThat(blocking.get("k")).isEmpty();
    assertThat(client.sessions().inUseCount()).isZero();
  }

  @Test
  void scansArePagedLazilyInKeyOrder() {
    List<String> keys = IntStream.range(0, 250).mapToObj(i -> String.format("p/%03d", i)).toList();
    keys.forEach(key -> client.blocking().put(key, "v"));
    client.blocking().put("q/after", "v");
    client.blocking().put("p", "shorter than the prefix range");

    ScanQuery query = ScanQuery.prefix(bytes("p/")).withPageSize(40);
    try (Stream<Entry> stream = client.blocking().scan(query)) {
      assertThat(stream.limit(50).map(Entry::keyUtf8).toList()).isEqualTo(keys.subList(0, 50));
    }
    assertThat(kv.scans).hasSize(2); // two pages were enough for 50 entries

    kv.scans.clear();
    try (Stream<Entry> stream = client.blocking().scan(query)) {
      assertThat(stream.map(Entry::keyUtf8).toList()).isEqualTo(keys);
    }
    assertThat(kv.scans).hasSize(7); // ceil(250 / 40)
    ScanRequest first = kv.scans.get(0);
    assertThat(first.getPrefix().toStringUtf8()).isEqualTo("p/");
    assertThat(first.getLimit()).isEqualTo(40);
    ScanRequest continued = kv.scans.get(1);
    assertThat(continued.getPrefix().isEmpty()).isTrue();
    assertThat(continued.getStartKey().toStringUtf8()).isEqualTo("p/040");
    assertThat(continued.getEndKey().toStringUtf8()).isEqualTo("p0"); // '/' + 1

    List<String> range =
        client
            .blocking()
            .scan(ScanQuery.range(bytes("p/100"), bytes("p/105")))
            .map(Entry::keyUtf8)
            .toList();
    assertThat(range).containsExactly("p/100", "p/101", "p/102", "p/103", "p/104");
  }

  @Test
  void prefixEndHandlesTrailingFf() {
    assertThat(ScanQuery.prefixEnd(new byte[] {1, (byte) 0xff})).containsExactly(2);
    assertThat(ScanQuery.prefixEnd(new byte[] {(byte) 0xff, (byte) 0xff})).isEmpty();
    assertThat(ScanQuery.prefixEnd(new byte[0])).isEmpty();
  }
}
