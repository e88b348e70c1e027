package io.ringkv.jepsen.harness.client;

import io.ringkv.client.Entry;
import io.ringkv.client.InvalidRequestException;
import io.ringkv.client.RejectedException;
import io.ringkv.client.RingKvClient;
import io.ringkv.client.RingKvException;
import io.ringkv.client.ScanQuery;
import io.ringkv.client.UnsupportedByServerException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * {@link KvClientAdapter} over the ringkv Java client: the operations a user's program would issue,
 * with the client's own routing (straight to partition leaders, refresh on leader change), its
 * retries, and its exactly-once write sessions. The client is given every node, the adapter's own
 * node first, so it starts there and then follows the partition map.
 *
 * <p>Error mapping, chosen to never claim more than the client knows. A read that fails is {@code
 * :fail} (it changed nothing). A write is {@code :fail} only when the client says the request was
 * refused before it could be applied: {@link InvalidRequestException} (malformed, a limit) or
 * {@link RejectedException} (e.g. a stale session sequence). Every other failure of a write,
 * including {@link io.ringkv.client.UnavailableException}, {@link
 * io.ringkv.client.DeadlineExceededException} and {@link
 * io.ringkv.client.ResourceExhaustedException}, is {@code :info}: the node may have forwarded an
 * earlier attempt to a leader before the failure it reported, so the harness does not rely on the
 * client's "certainly not applied" for its verdict. A compare-and-set whose comparison was false is
 * {@code :fail}.
 */
public final class JavaKvClient implements KvClientAdapter {
  private final RingKvClient client;

  /**
   * A client over {@code endpoints} (host:port, the preferred one first), {@code deadline} per op.
   */
  public JavaKvClient(List<String> endpoints, Duration deadline) {
    this.client =
        RingKvClient.builder()
            .endpoints(endpoints)
            .deadline(deadline)
            .attemptTimeout(deadline.dividedBy(2))
            .build();
  }

  @Override
  public Outcome read(String key) {
    try {
      Optional<Entry> entry = client.blocking().get(key);
      return Outcome.ok(entry.map(Entry::valueUtf8).orElse(null));
    } catch (RingKvException e) {
      return classify(e, false, "get");
    }
  }

  @Override
  public Outcome write(String key, String value) {
    try {
      client.blocking().put(key, value);
      return Outcome.ok(null);
    } catch (RingKvException e) {
      return classify(e, true, "put");
    }
  }

  @Override
  public Outcome compareAndSet(String key, String expected, String newValue) {
    try {
      boolean done =
          expected == null
              ? client
                  .blocking()
                  .commit(client.txn().ifAbsent(bytes(key)).thenPut(bytes(key), bytes(newValue)))
                  .succeeded()
              : client.blocking().compareAndSet(bytes(key), bytes(expected), bytes(newValue));
      return done ? Outcome.ok(null) : Outcome.fail("compare failed");
    } catch (RingKvException e) {
      return classify(e, true, "cas");
    }
  }

  @Override
  public Outcome scanKeys(String prefix) {
    try {
      List<String> keys =
          client.blocking().scan(ScanQuery.prefix(bytes(prefix))).map(Entry::keyUtf8).toList();
      return Outcome.ok(keys);
    } catch (RingKvException e) {
      return classify(e, false, "scan");
    }
  }

  @Override
  public void close() {
    client.close();
  }

  /** The outcome of an operation that ended in {@code e}; {@code mutates} for writes. */
  static Outcome classify(RingKvException e, boolean mutates, String operation) {
    String description = e.getClass().getSimpleName() + ": " + e.getMessage();
    if (e instanceof UnsupportedByServerException) {
      return Outcome.harnessError("the nodes do not offer " + operation + " (" + description + ")");
    }
    if (!mutates || e instanceof InvalidRequestException || e instanceof RejectedException) {
      return Outcome.fail(description);
    }
    return Outcome.info(description);
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
