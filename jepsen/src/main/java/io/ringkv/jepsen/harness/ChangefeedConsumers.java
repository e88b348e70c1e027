package io.ringkv.jepsen.harness;

import io.grpc.Status;
import io.ringkv.jepsen.Invariants;
import io.ringkv.jepsen.checker.ChangefeedChecker;
import io.ringkv.jepsen.checker.ChangefeedEvent;
import io.ringkv.jepsen.harness.client.GrpcKvClient;
import io.ringkv.jepsen.history.Keyword;
import io.ringkv.jepsen.history.OpType;
import io.ringkv.proto.v1.ErrorDetail;
import io.ringkv.proto.v1.Event;
import io.ringkv.proto.v1.OnCompacted;
import io.ringkv.proto.v1.WatchCursor;
import io.ringkv.proto.v1.WatchRequest;
import io.ringkv.proto.v1.WatchResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * The changefeed workload's consumers, one platform thread each (see {@link ChangefeedWorkload} for
 * what they record).
 *
 * <p>Design notes. Consumer {@code c} draws everything from its own seeded random (the run's seed
 * mixed with {@code c}): which node each stream goes to, and how long each stream lives before the
 * consumer drops it abruptly (uniform from {@link #STREAM_LIFETIME_MIN} to the run's {@code
 * --stream-seconds}). A node the nemesis kills, pauses or cuts off ends or stalls the streams it
 * serves; the consumer then resumes elsewhere. The cursor it resumes from is the one of the last
 * response it processed, never one of a response it only received. During the drain, streams are
 * not dropped on purpose, and a consumer stops once it has seen every acknowledged write, or after
 * {@link #DRAIN_QUIET} without a new event, or at {@link #DRAIN_DURATION_MAX}.
 */
final class ChangefeedConsumers implements Workload.Background {
  /** The shortest life of a stream a consumer drops on purpose. */
  static final Duration STREAM_LIFETIME_MIN = Duration.ofMillis(300);

  static final Duration DRAIN_QUIET = Duration.ofSeconds(10);
  static final Duration DRAIN_DURATION_MAX = Duration.ofSeconds(60);

  /** Progress responses this often keep an idle consumer's cursor fresh. */
  static final int PROGRESS_INTERVAL_MILLIS = 500;

  /** How long a consumer waits before the next attempt after a stream failed to open. */
  static final Duration RETRY_BACKOFF = Duration.ofMillis(100);

  /** How long one wait for a response lasts at most, so stop and drain are seen promptly. */
  static final Duration WAIT_SLICE_MAX = Duration.ofMillis(100);

  /** How long {@link #close()} waits for the consumer threads. */
  static final Duration JOIN_TIMEOUT = Duration.ofSeconds(10);

  private static final long CONSUMER_SEED_SALT = 0x63686e67L;
  private static final Keyword NODE = Keyword.of("node");
  private static final Keyword ERROR = Keyword.of("error");

  private final Workload.BackgroundContext context;
  private final int consumerCount;
  private final Duration streamLifetimeMax;
  private final String prefix;
  private final Set<Long> acknowledged;
  private final List<Thread> threads = new ArrayList<>();
  private volatile boolean stopped;

  /** The history time the drain began, or -1 before. */
  private volatile long drainStartNanos = -1;

  ChangefeedConsumers(
      Workload.BackgroundContext context,
      int consumerCount,
      Duration streamLifetimeMax,
      String prefix,
      Set<Long> acknowledged) {
    Invariants.check(
        STREAM_LIFETIME_MIN.compareTo(streamLifetimeMax) < 0, "stream lifetimes inverted");
    this.context = context;
    this.consumerCount = consumerCount;
    this.streamLifetimeMax = streamLifetimeMax;
    this.prefix = prefix;
    this.acknowledged = acknowledged;
  }

  @Override
  public void start() {
    for (int c = 0; c < consumerCount; c++) {
      int consumer = c;
      threads.add(Thread.ofPlatform().name("consumer-" + c).start(() -> run(consumer)));
    }
  }

  @Override
  public void drain() throws InterruptedException {
    drainStartNanos = context.recorder().elapsedNanos();
    long joinMillis = DRAIN_DURATION_MAX.plus(JOIN_TIMEOUT).toMillis();
    for (Thread thread : threads) {
      thread.join(joinMillis);
    }
  }

  @Override
  public void close() throws InterruptedException {
    stopped = true;
    for (Thread thread : threads) {
      thread.join(JOIN_TIMEOUT.toMillis());
      Invariants.check(!thread.isAlive(), "%s did not stop", thread.getName());
    }
  }

  /** One consumer's state: its process, cursor and the values it has processed. */
  private final class Consumer {
    final long id;
    final long process;
    final Random random;
    final Map<Long, Long> cursor = new TreeMap<>();
    final Set<Long> seen = new HashSet<>();
    long lastEventNanos;

    Consumer(int id) {
      this.id = id;
      this.process = ChangefeedWorkload.CONSUMER_PROCESS_BASE + id;
      this.random = new Random(context.seed() ^ CONSUMER_SEED_SALT ^ (id * 0x9e3779b97f4a7c15L));
    }

    Map<Object, Object> value() {
      Map<Object, Object> value = new LinkedHashMap<>();
      value.put(ChangefeedChecker.CONSUMER, id);
      return value;
    }
  }

  private void run(int id) {
    Consumer consumer = new Consumer(id);
    try {
      while (!stopped && !finishedDraining(consumer)) {
        int node = 1 + consumer.random.nextInt(context.cluster().nodeCount());
        long spread = streamLifetimeMax.minus(STREAM_LIFETIME_MIN).toNanos();
        long lifetimeNanos =
            STREAM_LIFETIME_MIN.toNanos() + (long) (consumer.random.nextDouble() * spread);
        if (!stream(consumer, node, lifetimeNanos)) {
          TimeUnit.NANOSECONDS.sleep(RETRY_BACKOFF.toNanos()); // pacing retries, not a test wait
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      context.harnessError().accept("consumer " + id + " failed: " + e);
    }
  }

  private boolean draining() {
    return drainStartNanos >= 0;
  }

  private boolean finishedDraining(Consumer consumer) {
    if (!draining()) {
      return false;
    }
    long now = context.recorder().elapsedNanos();
    return consumer.seen.containsAll(acknowledged)
        || now - Math.max(drainStartNanos, consumer.lastEventNanos) > DRAIN_QUIET.toNanos()
        || now - drainStartNanos > DRAIN_DURATION_MAX.toNanos();
  }

  /**
   * Runs one stream on {@code node} until it ends, the consumer drops it (its lifetime is over,
   * outside the drain) or the consumer is done; true when the stream was established.
   */
  private boolean stream(Consumer consumer, int node, long lifetimeNanos)
      throws InterruptedException {
    Map<Object, Object> watch = consumer.value();
    watch.put(NODE, (long) node);
    watch.put(ChangefeedChecker.CURSOR, new LinkedHashMap<Object, Object>(consumer.cursor));
    // The history keeps the very map it is given: every entry gets its own.
    context
        .recorder()
        .invoke(consumer.process, ChangefeedChecker.WATCH, new LinkedHashMap<>(watch));
    WatchRequest.Builder request =
        WatchRequest.newBuilder()
            .setPrefix(com.google.protobuf.ByteString.copyFromUtf8(prefix))
            .setStart(WatchRequest.Start.OLDEST)
            .setOnCompacted(OnCompacted.Action.FAIL)
            .setProgressIntervalMillis(PROGRESS_INTERVAL_MILLIS);
    WatchCursor.Builder cursor = WatchCursor.newBuilder();
    consumer.cursor.forEach(
        (partition, revision) -> cursor.putRevisions(partition.intValue(), revision));
    request.setCursor(cursor);
    try (WatchStream stream = WatchStream.open(context.cluster().address(node), request.build())) {
      WatchStream.Item first = stream.next(context.opTimeout().toNanos());
      if (!(first instanceof WatchStream.Response created)) {
        watch.put(ERROR, first == null ? "no response within the op timeout" : describe(first));
        context
            .recorder()
            .complete(consumer.process, OpType.FAIL, ChangefeedChecker.WATCH, watch, null);
        checkImplemented(first);
        return false;
      }
      watch.put(Keyword.of("watch-id"), created.response().getWatchId());
      watch.put(ChangefeedChecker.CURSOR, cursorEdn(created.response().getCursor()));
      context
          .recorder()
          .complete(consumer.process, OpType.OK, ChangefeedChecker.WATCH, watch, null);
      if (!process(consumer, created.response())) {
        return true;
      }
      long endNanos = context.recorder().elapsedNanos() + lifetimeNanos;
      while (!stopped && !finishedDraining(consumer)) {
        long now = context.recorder().elapsedNanos();
        if (!draining() && now >= endNanos) {
          break;
        }
        long waitNanos = Math.min(WAIT_SLICE_MAX.toNanos(), Math.max(1, endNanos - now));
        WatchStream.Item item = stream.next(waitNanos);
        if (item instanceof WatchStream.Response response) {
          if (!process(consumer, response.response())) {
            return true;
          }
        } else if (item instanceof WatchStream.Ended ended) {
          pollFailed(consumer, describe(ended), isCompacted(ended));
          return true;
        }
      }
      context.recorder().invoke(consumer.process, ChangefeedChecker.CANCEL, consumer.value());
      Map<Object, Object> cancel = consumer.value();
      cancel.put(Keyword.of("discarded"), (long) stream.pendingCount());
      context
          .recorder()
          .complete(consumer.process, OpType.OK, ChangefeedChecker.CANCEL, cancel, null);
      return true;
    }
  }

  /** Records one response as processed and adopts its cursor; false when it ends the stream. */
  private boolean process(Consumer consumer, WatchResponse response) {
    if (response.hasCompacted()) {
      pollFailed(consumer, "COMPACTED " + response.getCompacted(), true);
      return false;
    }
    Map<Object, Object> poll = consumer.value();
    context.recorder().invoke(consumer.process, ChangefeedChecker.POLL, poll);
    List<Object> events = new ArrayList<>();
    for (Event event : response.getEventsList()) {
      ChangefeedEvent recorded = toEvent(event);
      events.add(recorded.toEdn());
      if (recorded.value() instanceof Long value) {
        consumer.seen.add(value);
      }
    }
    if (!events.isEmpty()) {
      consumer.lastEventNanos = context.recorder().elapsedNanos();
    }
    // A partition the response's cursor leaves out keeps its revision: a request's cursor that
    // omits a partition would start it at OLDEST again.
    response.getCursor().getRevisionsMap().forEach((p, r) -> consumer.cursor.put((long) p, r));
    Map<Object, Object> done = consumer.value();
    done.put(ChangefeedChecker.EVENTS, events);
    done.put(ChangefeedChecker.CURSOR, cursorEdn(response.getCursor()));
    context.recorder().complete(consumer.process, OpType.OK, ChangefeedChecker.POLL, done, null);
    return true;
  }

  private void pollFailed(Consumer consumer, String error, boolean compacted) {
    Map<Object, Object> poll = consumer.value();
    context.recorder().invoke(consumer.process, ChangefeedChecker.POLL, poll);
    Map<Object, Object> failed = consumer.value();
    failed.put(ERROR, error);
    if (compacted) {
      failed.put(ChangefeedChecker.COMPACTED, true);
    }
    context
        .recorder()
        .complete(consumer.process, OpType.FAIL, ChangefeedChecker.POLL, failed, null);
  }

  /** A node that does not serve Watch cannot run this test: a harness error, not a verdict. */
  private void checkImplemented(WatchStream.Item item) {
    if (item instanceof WatchStream.Ended ended
        && ended.status().getCode() == Status.Code.UNIMPLEMENTED) {
      context.harnessError().accept("the node does not implement ringkv.v1.Watch/Watch");
      stopped = true;
    }
  }

  /** A cursor as EDN, partitions in order. */
  private static Map<Object, Object> cursorEdn(WatchCursor cursor) {
    Map<Object, Object> edn = new LinkedHashMap<>();
    new TreeMap<>(cursor.getRevisionsMap()).forEach((p, r) -> edn.put((long) p, r));
    return edn;
  }

  private ChangefeedEvent toEvent(Event event) {
    String key = event.getKey().toStringUtf8();
    Object recordedKey = key;
    if (key.startsWith(prefix)) {
      recordedKey = parseOrRaw(key.substring(prefix.length()));
      if (recordedKey instanceof String) {
        recordedKey = key;
      }
    }
    Object value =
        event.getKind() == Event.Kind.DELETE
            ? ChangefeedEvent.DELETED
            : parseOrRaw(event.getValue().toString(StandardCharsets.UTF_8));
    return new ChangefeedEvent(
        new ChangefeedEvent.Id(
            Integer.toUnsignedLong(event.getPartition()),
            event.getRevision(),
            Integer.toUnsignedLong(event.getOrdinal())),
        recordedKey,
        value);
  }

  private static Object parseOrRaw(String text) {
    try {
      return Long.parseLong(text);
    } catch (NumberFormatException e) {
      return text;
    }
  }

  private static String describe(WatchStream.Item item) {
    if (!(item instanceof WatchStream.Ended ended)) {
      return "unexpected " + item;
    }
    if (ended.status().isOk()) {
      return "the stream completed";
    }
    return ended.status().getCode()
        + (ended.status().getDescription() == null ? "" : ": " + ended.status().getDescription());
  }

  private static boolean isCompacted(WatchStream.Ended ended) {
    return ended.status().getCode() == Status.Code.FAILED_PRECONDITION
        && GrpcKvClient.errorDetail(ended.status().asRuntimeException(ended.trailers()))
            .map(detail -> detail.getReason() == ErrorDetail.Reason.COMPACTED)
            .orElse(false);
  }
}
