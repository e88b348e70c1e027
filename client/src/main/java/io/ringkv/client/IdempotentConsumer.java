package io.ringkv.client;

import com.google.protobuf.ByteString;
import io.ringkv.routing.PartitionLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Applies the effect of each changefeed event into ringkv exactly once, across crashes and
 * restarts, by writing the consumer's position in the same transaction as the effect.
 *
 * <pre>{@code
 * IdempotentConsumer consumer = new IdempotentConsumer(client, "order-totals",
 *     WatchQuery.prefix("orders/").fromOldest(),
 *     (event, effects) -> {
 *       byte[] total = ("totals/" + customerOf(event)).getBytes(UTF_8);
 *       long before = effects.get(total).map(e -> Long.parseLong(e.valueUtf8())).orElse(0L);
 *       effects.put(total, Long.toString(before + amountOf(event)).getBytes(UTF_8));
 *     });
 * consumer.run(); // until stop() or a failure; run it again after a crash
 * }</pre>
 *
 * <p>Design notes. A transaction covers keys of one partition, so the position cannot live in one
 * key: the consumer keeps a <em>position record</em> per (source partition of the event, target
 * partition of its effects), whose key carries a hash tag chosen so that it lands in the target
 * partition: {@code ringkv-consumer/NAME/SOURCE/TARGET/{TAG}}. Applying an event is one transaction
 * on the target partition: if the record's version is still the one this consumer last saw, and
 * every key the handler read is unchanged, then write the effects and the event's position
 * (revision and ordinal) into the record. On restart the consumer reads its records; per source
 * partition the highest position stored is where it stopped (events are applied one at a time, in
 * order, so everything before it was applied), and the watch resumes from the revision before that
 * position, skipping events at or before it. An event whose transaction failed its compares is
 * re-read: if the record already holds its position (a previous attempt whose answer was lost
 * applied it) it is skipped, otherwise the handler runs again on fresh reads.
 *
 * <p>Rules for the handler: all keys it reads and writes for one event lie in one partition
 * (co-locate them with a {@code {hash tag}}); it is deterministic given the event and what it
 * reads; it has no side effects outside {@code effects}. Events whose handler writes nothing are
 * not recorded and are seen again after a restart. Snapshot events (from a SNAPSHOT start or the
 * on-compacted fallback) have no position in the changefeed: their effects are applied without a
 * record, and a restart during the snapshot scan applies them again, so a handler should treat them
 * as upserts of state. Only one instance per consumer name may run at a time; a second one cannot
 * apply an event twice, but the two would race for the records.
 */
public final class IdempotentConsumer {
  /** Key prefix of every position record. */
  public static final String RECORD_PREFIX = "ringkv-consumer/";

  /** Attempts at one event (compares failing because a read key changed) before giving up. */
  public static final int ATTEMPTS_PER_EVENT_MAX = 32;

  /**
   * Tags tried to find a record key in a target partition (the partition count is at most 2^16).
   */
  static final int RECORD_TAG_SEARCH_MAX = 1 << 24;

  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.-]{1,128}");

  /** What one event does to ringkv. */
  @FunctionalInterface
  public interface Handler {
    void handle(WatchEvent event, Effects effects);
  }

  /** The reads and writes of one event's transaction. */
  public static final class Effects {
    private final RingKvClient client;
    private final Map<ByteString, Long> readVersions = new LinkedHashMap<>();
    private final List<byte[]> writeKeys = new ArrayList<>();
    private final List<Consumer<Txn>> writes = new ArrayList<>();

    private Effects(RingKvClient client) {
      this.client = client;
    }

    /** Reads {@code key} linearizably; the transaction applies only if it is still unchanged. */
    public Optional<Entry> get(byte[] key) {
      Optional<Entry> entry = client.blocking().get(key);
      readVersions.put(ByteString.copyFrom(key), entry.map(Entry::version).orElse(0L));
      return entry;
    }

    public Optional<Entry> get(String key) {
      return get(RingKvClient.utf8(key));
    }

    public void put(byte[] key, byte[] value) {
      byte[] k = key.clone();
      byte[] v = value.clone();
      writeKeys.add(k);
      writes.add(txn -> txn.thenPut(k, v));
    }

    public void put(String key, String value) {
      put(RingKvClient.utf8(key), RingKvClient.utf8(value));
    }

    public void delete(byte[] key) {
      byte[] k = key.clone();
      writeKeys.add(k);
      writes.add(txn -> txn.thenDelete(k));
    }
  }

  /** Where a source partition stands: the last event applied. */
  private record Position(long revision, int ordinal) implements Comparable<Position> {
    static Position parse(String text) {
      int slash = text.indexOf('/');
      return new Position(
          Long.parseLong(text.substring(0, slash)), Integer.parseInt(text.substring(slash + 1)));
    }

    static Position of(WatchEvent event) {
      return new Position(event.revision(), event.ordinal());
    }

    @Override
    public int compareTo(Position other) {
      int byRevision = Long.compare(revision, other.revision);
      return byRevision != 0 ? byRevision : Integer.compare(ordinal, other.ordinal);
    }

    byte[] bytes() {
      return (revision + "/" + ordinal).getBytes(StandardCharsets.UTF_8);
    }
  }

  /** A position record as this consumer last saw it. */
  private record Record(long version, Position position) {}

  private final RingKvClient client;
  private final String name;
  private final WatchQuery query;
  private final Handler handler;
  private final Function<WatchQuery, Flow.Publisher<WatchItem>> source;
  private final Map<Integer, Position> applied = new HashMap<>();
  private final Map<Long, Record> records = new HashMap<>();
  private final Map<Integer, byte[]> tagByTarget = new HashMap<>();
  private volatile boolean stopped;
  private volatile Flow.Subscription subscription;
  private PartitionLayout layout;
  private long eventsApplied;
  private long eventsSkipped;

  /** Test hook: called at named points of applying an event (a test throws there to crash). */
  Consumer<String> faultHook = point -> {};

  /**
   * A consumer named {@code name} (letters, digits, {@code _.-}) applying {@code handler} to the
   * events of {@code query}; partitions without a stored position start as the query says.
   */
  public IdempotentConsumer(RingKvClient client, String name, WatchQuery query, Handler handler) {
    this(client, name, query, handler, client::watch);
  }

  IdempotentConsumer(
      RingKvClient client,
      String name,
      WatchQuery query,
      Handler handler,
      Function<WatchQuery, Flow.Publisher<WatchItem>> source) {
    if (client == null || query == null || handler == null || source == null) {
      throw new IllegalArgumentException("client, query and handler must not be null");
    }
    if (name == null || !NAME.matcher(name).matches()) {
      throw new IllegalArgumentException(
          "consumer name must be 1-128 of letters, digits, '_', '.', '-'; got '" + name + "'");
    }
    this.client = client;
    this.name = name;
    this.query = query;
    this.handler = handler;
    this.source = source;
  }

  /**
   * Reads the stored positions, then applies events one at a time until {@link #stop()} or a
   * failure (which it throws; run a new consumer of the same name to continue).
   */
  public void run() throws InterruptedException {
    load();
    BlockingQueue<Object> handOver = new ArrayBlockingQueue<>(2);
    source
        .apply(query.fromCursor(resumeCursor(), query.start()))
        .subscribe(
            new Flow.Subscriber<>() {
              @Override
              public void onSubscribe(Flow.Subscription s) {
                subscription = s;
                s.request(1);
              }

              @Override
              public void onNext(WatchItem item) {
                handOver.add(item);
              }

              @Override
              public void onError(Throwable error) {
                handOver.add(error);
              }

              @Override
              public void onComplete() {
                handOver.add(Boolean.TRUE);
              }
            });
    try {
      while (!stopped) {
        Object next = handOver.poll(100, TimeUnit.MILLISECONDS); // re-check stop() this often
        if (next == null) {
          continue;
        }
        if (next instanceof Throwable error) {
          throw error instanceof RuntimeException e ? e : new IllegalStateException(error);
        }
        if (next instanceof WatchEvent event) {
          apply(event);
        }
        if (next instanceof Boolean) {
          return;
        }
        subscription.request(1);
      }
    } finally {
      Flow.Subscription s = subscription;
      if (s != null) {
        s.cancel();
      }
    }
  }

  /** Makes {@link #run()} return after the event in hand. */
  public void stop() {
    stopped = true;
  }

  public long eventsApplied() {
    return eventsApplied;
  }

  /** Events not applied because a record showed them applied already. */
  public long eventsSkipped() {
    return eventsSkipped;
  }

  /** Reads this consumer's position records; called by {@link #run()}. */
  void load() {
    PartitionMap map = client.router().ensureMap().join();
    if (map == null) {
      throw new UnavailableException(
          "consumer " + name + ": no node answered with the partition map", null);
    }
    layout = PartitionLayout.of(map.partitionCount());
    applied.clear();
    records.clear();
    String prefix = RECORD_PREFIX + name + "/";
    try (Stream<Entry> entries =
        client.blocking().scan(ScanQuery.prefix(prefix.getBytes(StandardCharsets.UTF_8)))) {
      entries.forEach(entry -> {
        String[] parts = entry.keyUtf8().substring(prefix.length()).split("/", 3);
        int sourcePartition = Integer.parseInt(parts[0]);
        int target = Integer.parseInt(parts[1]);
        Position position = Position.parse(entry.valueUtf8());
        records.put(recordId(sourcePartition, target), new Record(entry.version(), position));
        applied.merge(sourcePartition, position, (a, b) -> a.compareTo(b) >= 0 ? a : b);
      });
    }
  }

  /**
   * Where the watch resumes: the query's cursor, and for each source partition with a stored
   * position the revision before it (that revision is delivered again and its events up to the
   * stored ordinal skipped, since a cursor cannot point inside a revision).
   */
  WatchCursor resumeCursor() {
    WatchCursor cursor = query.cursor();
    for (Map.Entry<Integer, Position> entry : applied.entrySet()) {
      cursor = cursor.with(entry.getKey(), entry.getValue().revision() - 1);
    }
    return cursor;
  }

  private void apply(WatchEvent event) {
    Position position = Position.of(event);
    Position done = applied.get(event.partition());
    if (!event.fromSnapshot() && done != null && position.compareTo(done) <= 0) {
      eventsSkipped++;
      return;
    }
    for (int attempt = 0; attempt < ATTEMPTS_PER_EVENT_MAX; attempt++) {
      Effects effects = new Effects(client);
      handler.handle(event, effects);
      faultHook.accept("handled");
      if (effects.writes.isEmpty()) {
        markApplied(event, position);
        return;
      }
      int target = layout.partitionOfKey(effects.writeKeys.get(0));
      for (byte[] key : effects.writeKeys) {
        if (layout.partitionOfKey(key) != target) {
          throw new IllegalArgumentException(
              "consumer "
                  + name
                  + ": the effects of one event must lie in one partition (use a {hash tag})");
        }
      }
      if (commit(event, position, effects, target)) {
        return;
      }
    }
    throw new IllegalStateException(
        "consumer "
            + name
            + ": event "
            + event
            + " failed its compares "
            + ATTEMPTS_PER_EVENT_MAX
            + " times (keys it reads keep changing)");
  }

  /** One attempt; true when the event is applied (now or before), false to run it again. */
  private boolean commit(WatchEvent event, Position position, Effects effects, int target) {
    Txn txn = client.txn();
    effects.readVersions.forEach((key, version) -> txn.ifVersionEquals(key.toByteArray(), version));
    byte[] recordKey = null;
    long recordId = recordId(event.partition(), target);
    Record record = records.get(recordId);
    if (!event.fromSnapshot()) {
      recordKey = recordKey(event.partition(), target);
      txn.ifVersionEquals(recordKey, record == null ? 0 : record.version());
    }
    effects.writes.forEach(write -> write.accept(txn));
    if (recordKey != null) {
      txn.thenPut(recordKey, position.bytes()).orElseGet(recordKey);
    }
    faultHook.accept("before-commit");
    TxnResult result;
    try {
      result = BlockingRingKvClient.await(txn.commit());
    } catch (OutcomeUnknownException e) {
      if (recordKey == null) {
        throw e; // a snapshot event has no record to tell; let the caller decide
      }
      return learnRecord(event, position, recordId, client.blocking().get(recordKey));
    }
    if (result.succeeded()) {
      if (recordKey != null) {
        records.put(recordId, new Record(record == null ? 1 : record.version() + 1, position));
      }
      faultHook.accept("committed");
      markApplied(event, position);
      eventsApplied++;
      return true;
    }
    if (recordKey == null) {
      return false;
    }
    TxnResult.OpResult last = result.results().get(result.results().size() - 1);
    Optional<Entry> stored =
        last instanceof TxnResult.GetResult get ? get.entry() : Optional.empty();
    return learnRecord(event, position, recordId, stored);
  }

  /** Takes in a record read back; true when it shows the event applied. */
  private boolean learnRecord(
      WatchEvent event, Position position, long recordId, Optional<Entry> stored) {
    if (stored.isEmpty()) {
      records.remove(recordId);
      return false;
    }
    Position storedPosition = Position.parse(stored.get().valueUtf8());
    records.put(recordId, new Record(stored.get().version(), storedPosition));
    if (storedPosition.compareTo(position) >= 0) {
      markApplied(event, position);
      eventsSkipped++;
      return true;
    }
    return false;
  }

  private void markApplied(WatchEvent event, Position position) {
    if (!event.fromSnapshot()) {
      applied.merge(event.partition(), position, (a, b) -> a.compareTo(b) >= 0 ? a : b);
    }
  }

  private static long recordId(int sourcePartition, int target) {
    return ((long) sourcePartition << 32) | target;
  }

  /** The record key of (source, target), its hash tag chosen to land in {@code target}. */
  byte[] recordKey(int sourcePartition, int target) {
    byte[] tag = tagByTarget.computeIfAbsent(target, this::tagFor);
    return (RECORD_PREFIX
            + name
            + "/"
            + sourcePartition
            + "/"
            + target
            + "/{"
            + new String(tag, StandardCharsets.UTF_8)
            + "}")
        .getBytes(StandardCharsets.UTF_8);
  }

  /** The smallest decimal tag hashing into {@code target}: the same key on every restart. */
  private byte[] tagFor(int target) {
    for (int n = 0; n < RECORD_TAG_SEARCH_MAX; n++) {
      byte[] tag = Integer.toString(n).getBytes(StandardCharsets.UTF_8);
      if (layout.partitionOfKey(tag) == target) {
        return tag;
      }
    }
    throw new IllegalStateException("no record tag found for partition " + target);
  }
}
