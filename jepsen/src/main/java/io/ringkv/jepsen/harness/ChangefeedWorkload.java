package io.ringkv.jepsen.harness;

import io.ringkv.jepsen.checker.ChangefeedAnomaly;
import io.ringkv.jepsen.checker.ChangefeedCheckResult;
import io.ringkv.jepsen.checker.ChangefeedChecker;
import io.ringkv.jepsen.checker.CheckLimits;
import io.ringkv.jepsen.harness.client.KvClientAdapter;
import io.ringkv.jepsen.harness.client.Outcome;
import io.ringkv.jepsen.history.Keyword;
import io.ringkv.jepsen.history.Op;
import io.ringkv.jepsen.history.OpType;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The changefeed workload: writers put unique values under a prefix while consumers watch the
 * prefix, each consumer's stream dropped abruptly at random times and resumed from the consumer's
 * last processed cursor on a random node. Checked by {@link ChangefeedChecker}.
 *
 * <p>History encoding (EDN, one map per line as every history of the suite):
 *
 * <ul>
 *   <li>Writes, by the client processes: {@code :f :write}, value {@code [k v]}: key {@code
 *       jepsen/cf/<k>} ({@code k} below {@code --keys}) set to the decimal string of {@code v}, a
 *       value no other write uses. Completions carry the same value; {@code :fail} only when the
 *       node refused before proposing, {@code :info} when the write may have applied.
 *   <li>Consumer {@code c} is process {@link #CONSUMER_PROCESS_BASE}{@code + c} for the whole run
 *       (its ops end only {@code :ok} or {@code :fail}, never {@code :info}). Every value names
 *       {@code :consumer c}.
 *   <li>{@code :watch}: a stream opened; invoked with {@code {:consumer c :node n :cursor {p r}}},
 *       the cursor it resumes after ({@code {}} at first: start OLDEST). {@code :ok} once the node
 *       sent its first response ({@code :watch-id}, {@code :cursor} of that response); {@code
 *       :fail} with {@code :error} when the stream failed before that, or within the open timeout
 *       sent nothing (then it is cancelled).
 *   <li>{@code :poll}: one stream response processed, invoked when the consumer takes it and
 *       completed {@code :ok} at once with {@code {:consumer c :events [[p rev ord k v] ...]
 *       :cursor {p r}}}; the consumer resumes from that cursor. {@code k} and {@code v} are the
 *       integers of the key and value when they have the workload's form, else the raw strings;
 *       {@code v} is {@code :deleted} for a DELETE. {@code :fail} with {@code :error} (and {@code
 *       :compacted true} for COMPACTED) when the stream ended with an error or completed.
 *   <li>{@code :cancel}: the consumer dropped its stream abruptly (channel shut down at once, as if
 *       its process died): {@code :ok} with {@code :discarded}, responses received but never
 *       processed, which the next stream must deliver again.
 * </ul>
 *
 * <p>A consumer processes a response (records its events and adopts its cursor) as one step, so its
 * recorded events are exactly what a consumer that stores its cursor with its effects would have
 * applied: the checker's "no duplicate across a resume" is the contract of resuming from that
 * cursor. After the load and the heal, each consumer drains: it keeps streaming until it has seen
 * every acknowledged write, or saw no new event for {@link ChangefeedConsumers#DRAIN_QUIET} while
 * its stream was up, or {@link ChangefeedConsumers#DRAIN_DURATION_MAX} passed.
 */
final class ChangefeedWorkload implements Workload {
  static final Keyword WRITE = ChangefeedChecker.WRITE;
  static final String PREFIX = "jepsen/cf/";

  /** Consumer {@code c} records as process {@code CONSUMER_PROCESS_BASE + c}. */
  static final long CONSUMER_PROCESS_BASE = 2_000_000L;

  private final int keys;
  private final int consumers;
  private final Duration streamLifetimeMax;
  private final AtomicLong nextValue = new AtomicLong();
  private final Set<Long> acknowledged = ConcurrentHashMap.newKeySet();

  ChangefeedWorkload(int keys, int consumers, Duration streamLifetimeMax) {
    if (keys < 1 || consumers < 1) {
      throw new IllegalArgumentException("the changefeed workload needs keys and consumers");
    }
    this.keys = keys;
    this.consumers = consumers;
    this.streamLifetimeMax = streamLifetimeMax;
  }

  @Override
  public String name() {
    return "changefeed";
  }

  @Override
  public Invocation next(Random random) {
    return new Invocation(WRITE, List.of((long) random.nextInt(keys), nextValue.getAndIncrement()));
  }

  @Override
  public Outcome apply(KvClientAdapter client, Invocation invocation) {
    List<?> tuple = (List<?>) invocation.value();
    long value = (Long) tuple.get(1);
    Outcome outcome = client.write(PREFIX + tuple.get(0), Long.toString(value));
    if (outcome.type() != OpType.OK) {
      return outcome;
    }
    acknowledged.add(value);
    return Outcome.ok(tuple);
  }

  @Override
  public List<FinalRead> finalReads(int nodeCount) {
    return List.of(); // the consumers' drain is this workload's final phase
  }

  @Override
  public Background background(BackgroundContext context) {
    return new ChangefeedConsumers(context, consumers, streamLifetimeMax, PREFIX, acknowledged);
  }

  @Override
  public List<CheckOutcome> check(List<Op> history, CheckLimits limits) {
    ChangefeedCheckResult result = ChangefeedChecker.check(history);
    Map<Object, Object> edn = new LinkedHashMap<>();
    edn.put(Keyword.of("valid?"), RegisterWorkload.validEdn(result.verdict()));
    edn.put(Keyword.of("acknowledged-count"), (long) result.acknowledgedCount());
    edn.put(Keyword.of("consumer-count"), (long) result.consumerCount());
    edn.put(Keyword.of("stream-count"), (long) result.streamCount());
    edn.put(Keyword.of("event-count"), result.eventCount());
    edn.put(Keyword.of("recovered-count"), (long) result.recoveredCount());
    edn.put(Keyword.of("anomaly-count"), (long) result.anomalyCount());
    List<Object> anomalies = new ArrayList<>();
    StringBuilder lines = new StringBuilder();
    for (ChangefeedAnomaly anomaly : result.anomalies()) {
      anomalies.add(anomaly.toEdn());
      lines.append("  ").append(anomaly.describe()).append('\n');
    }
    edn.put(Keyword.of("anomalies"), anomalies);
    result.unknownReason().ifPresent(reason -> edn.put(Keyword.of("reason"), reason));
    String text =
        String.format(
            "changefeed: %s; %d acknowledged writes; %d consumers, %d streams, %d events;"
                + " %d indefinite writes seen; %d anomalies%s%n%s",
            result.unknownReason().map(r -> "unknown: " + r).orElse(result.verdict().label()),
            result.acknowledgedCount(),
            result.consumerCount(),
            result.streamCount(),
            result.eventCount(),
            result.recoveredCount(),
            result.anomalyCount(),
            result.anomalies().size() < result.anomalyCount() ? " (first listed)" : "",
            lines);
    return List.of(new CheckOutcome("changefeed", result.verdict(), edn, text));
  }
}
