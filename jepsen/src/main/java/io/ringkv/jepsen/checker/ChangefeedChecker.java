package io.ringkv.jepsen.checker;

import io.ringkv.jepsen.Invariants;
import io.ringkv.jepsen.history.Edn;
import io.ringkv.jepsen.history.Keyword;
import io.ringkv.jepsen.history.Op;
import io.ringkv.jepsen.history.OpType;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * Checks a history of the changefeed workload: writers put unique values, consumers watch the keys
 * and record what each stream delivers.
 *
 * <p>The history (see {@code ChangefeedWorkload} for the full encoding): a write is {@code :f
 * :write} with value {@code [key value]}, value unique across the run. Consumer {@code c} records
 * {@code :watch} ops (a stream opened on a node from a cursor; {@code :ok} once the node
 * acknowledged it), {@code :poll} ops (one stream response processed: {@code :ok} with {@code
 * {:consumer c :events [[partition revision ordinal key value] ...] :cursor {...}}}) and {@code
 * :cancel} ops (the consumer dropped its stream abruptly); every value names {@code :consumer}.
 *
 * <p>The rules. The run is invalid when, for any consumer:
 *
 * <ul>
 *   <li>MISSING: a write acknowledged ({@code :ok}) after that consumer's first {@code :watch}
 *       completed {@code :ok} is not among its events. Consumers start from OLDEST and resume from
 *       the cursor of the last response they processed, so they must see at least every such write
 *       (earlier ones too, in fact, but a consumer is held only to the span after it was
 *       established). A consumer whose stream reported COMPACTED is not held to it: retention, not
 *       a bug, may explain a gap, and the verdict is unknown unless something else is invalid.
 *   <li>DUPLICATE: the same (partition, revision, ordinal) appears twice among its events, in one
 *       stream or across a resume.
 *   <li>OUT_OF_ORDER: an event of a key comes after an event of the same key with a higher
 *       (revision, ordinal).
 *   <li>UNEXPECTED: an event shows a value no write produced: no write of that value, a write of it
 *       to another key, a write that ended {@code :fail}, a write invoked only after the event was
 *       processed, or a DELETE (the workload never deletes). A write that ended {@code :info} may
 *       or may not appear.
 *   <li>DIVERGENT: two consumers saw different keys or values at the same (partition, revision,
 *       ordinal).
 * </ul>
 *
 * <p>The verdict is unknown (and never valid) when no write was acknowledged, or some consumer
 * never had a stream established. Linear in the history's size.
 */
public final class ChangefeedChecker {
  public static final Keyword WRITE = Keyword.of("write");
  public static final Keyword WATCH = Keyword.of("watch");
  public static final Keyword POLL = Keyword.of("poll");
  public static final Keyword CANCEL = Keyword.of("cancel");
  public static final Keyword CONSUMER = Keyword.of("consumer");
  public static final Keyword EVENTS = Keyword.of("events");
  public static final Keyword CURSOR = Keyword.of("cursor");

  /** Set (true) in the value of a {@code :poll :fail} whose stream ended COMPACTED. */
  public static final Keyword COMPACTED = Keyword.of("compacted");

  /** Anomalies listed per rule; the rest are only counted, to keep results readable. */
  public static final int ANOMALIES_LISTED_MAX = 20;

  private ChangefeedChecker() {}

  /** A write of the history: where it was invoked and completed, and how it ended. */
  private static final class Write {
    final Object key;
    final Object value;
    final long invokePosition;
    OpType outcome; // null while pending: it never completed
    long completePosition = -1;

    Write(Object key, Object value, long invokePosition) {
      this.key = key;
      this.value = value;
      this.invokePosition = invokePosition;
    }
  }

  /** An event as one consumer processed it, at the position of its {@code :poll} completion. */
  private record Delivery(ChangefeedEvent event, long position) {}

  /** What one consumer was delivered. */
  private static final class Consumer {
    long establishedPosition = -1;
    int streams;
    boolean compacted;
    final List<Delivery> deliveries = new ArrayList<>();
    final Map<ChangefeedEvent.Id, Long> seen = new HashMap<>();
    final Map<Object, ChangefeedEvent.Id> lastByKey = new HashMap<>();
    final Set<Object> values = new HashSet<>();
  }

  /** Collects anomalies, listing at most {@link #ANOMALIES_LISTED_MAX} per rule. */
  private static final class Anomalies {
    final List<ChangefeedAnomaly> listed = new ArrayList<>();
    final Map<ChangefeedAnomaly.Rule, Integer> counts = new EnumMap<>(ChangefeedAnomaly.Rule.class);
    int total;

    void add(ChangefeedAnomaly anomaly) {
      total++;
      int count = counts.merge(anomaly.rule(), 1, Integer::sum);
      if (count <= ANOMALIES_LISTED_MAX) {
        listed.add(anomaly);
      }
    }
  }

  /**
   * Checks a changefeed history.
   *
   * @throws IllegalArgumentException when the history is malformed: an op value not in the
   *     workload's encoding, a write value used twice, or a process that invokes twice at once
   */
  public static ChangefeedCheckResult check(List<Op> history) {
    Map<Object, Write> writesByValue = new HashMap<>();
    Map<Object, Write> pendingWrites = new HashMap<>();
    Map<Long, Consumer> consumers = new TreeMap<>();
    Map<Object, Op> pendingConsumerOps = new HashMap<>();
    Map<ChangefeedEvent.Id, Delivery> firstDelivery = new HashMap<>();
    Map<ChangefeedEvent.Id, Long> firstConsumer = new HashMap<>();
    Set<ChangefeedEvent.Id> divergenceReported = new HashSet<>();
    Anomalies anomalies = new Anomalies();
    long eventCount = 0;
    for (int position = 0; position < history.size(); position++) {
      Op op = history.get(position);
      if (!op.isClient()) {
        continue;
      }
      if (WRITE.equals(op.f())) {
        recordWrite(op, position, writesByValue, pendingWrites);
        continue;
      }
      if (!(WATCH.equals(op.f()) || POLL.equals(op.f()) || CANCEL.equals(op.f()))) {
        throw new IllegalArgumentException(
            "not a changefeed op at position " + position + ": " + Edn.write(op.f()));
      }
      if (op.type() == OpType.INVOKE) {
        Op previous = pendingConsumerOps.put(op.process(), op);
        if (previous != null) {
          throw new IllegalArgumentException(
              "consumer process " + op.process() + " invokes at " + position + " while pending");
        }
        continue;
      }
      pendingConsumerOps.remove(op.process());
      Map<?, ?> value = valueMap(op, position);
      long consumerId = consumerOf(value, position);
      Consumer consumer = consumers.computeIfAbsent(consumerId, id -> new Consumer());
      if (WATCH.equals(op.f()) && op.type() == OpType.OK) {
        consumer.streams++;
        if (consumer.establishedPosition < 0) {
          consumer.establishedPosition = position;
        }
      } else if (POLL.equals(op.f()) && op.type() == OpType.FAIL) {
        consumer.compacted |= Boolean.TRUE.equals(value.get(COMPACTED));
      } else if (POLL.equals(op.f()) && op.type() == OpType.OK) {
        if (!(value.get(EVENTS) instanceof List<?> events)) {
          throw new IllegalArgumentException("a :poll :ok without :events at " + position);
        }
        for (Object edn : events) {
          ChangefeedEvent event = ChangefeedEvent.fromEdn(edn);
          eventCount++;
          deliver(consumerId, consumer, event, position, anomalies);
          Delivery first = firstDelivery.putIfAbsent(event.id(), new Delivery(event, position));
          firstConsumer.putIfAbsent(event.id(), consumerId);
          if (first != null
              && (!first.event().key().equals(event.key())
                  || !first.event().value().equals(event.value()))
              && divergenceReported.add(event.id())) {
            anomalies.add(
                new ChangefeedAnomaly(
                    ChangefeedAnomaly.Rule.DIVERGENT,
                    firstConsumer.get(event.id()),
                    event.id(),
                    first.event().key(),
                    first.event().value(),
                    position,
                    "consumer "
                        + consumerId
                        + " saw key "
                        + Edn.write(event.key())
                        + " value "
                        + Edn.write(event.value())
                        + " there"));
          }
        }
      }
    }
    Set<Object> recovered = new HashSet<>();
    for (Map.Entry<Long, Consumer> entry : consumers.entrySet()) {
      checkValues(entry.getKey(), entry.getValue(), writesByValue, anomalies, recovered);
    }
    List<Write> acknowledged = new ArrayList<>();
    for (Write write : writesByValue.values()) {
      if (write.outcome == OpType.OK) {
        acknowledged.add(write);
      }
    }
    acknowledged.sort((a, b) -> Long.compare(a.completePosition, b.completePosition));
    List<String> unknown = new ArrayList<>();
    int streams = 0;
    for (Map.Entry<Long, Consumer> entry : consumers.entrySet()) {
      Consumer consumer = entry.getValue();
      streams += consumer.streams;
      if (consumer.establishedPosition < 0) {
        unknown.add("consumer " + entry.getKey() + " never had a stream established");
        continue;
      }
      if (consumer.compacted) {
        unknown.add("consumer " + entry.getKey() + " hit COMPACTED; its gaps are not judged");
        continue;
      }
      for (Write write : acknowledged) {
        if (write.completePosition > consumer.establishedPosition
            && !consumer.values.contains(write.value)) {
          anomalies.add(
              new ChangefeedAnomaly(
                  ChangefeedAnomaly.Rule.MISSING,
                  entry.getKey(),
                  null,
                  write.key,
                  write.value,
                  write.completePosition,
                  "acknowledged after the consumer was established (position "
                      + consumer.establishedPosition
                      + ") and never delivered to it"));
        }
      }
    }
    if (acknowledged.isEmpty()) {
      unknown.add("no write was acknowledged");
    }
    if (consumers.isEmpty()) {
      unknown.add("no consumer recorded anything");
    }
    Verdict verdict =
        anomalies.total > 0 ? Verdict.INVALID : unknown.isEmpty() ? Verdict.VALID : Verdict.UNKNOWN;
    Invariants.check(
        anomalies.listed.size() <= anomalies.total, "listed more anomalies than found");
    return new ChangefeedCheckResult(
        verdict,
        acknowledged.size(),
        consumers.size(),
        streams,
        eventCount,
        recovered.size(),
        anomalies.total,
        anomalies.listed,
        verdict == Verdict.UNKNOWN ? Optional.of(String.join("; ", unknown)) : Optional.empty());
  }

  private static void recordWrite(
      Op op, int position, Map<Object, Write> writesByValue, Map<Object, Write> pendingWrites) {
    if (op.type() == OpType.INVOKE) {
      if (!(op.value() instanceof List<?> tuple) || tuple.size() != 2) {
        throw new IllegalArgumentException(
            "a write's value is [key value], not " + Edn.write(op.value()) + " at " + position);
      }
      Write write = new Write(tuple.get(0), tuple.get(1), position);
      if (writesByValue.putIfAbsent(write.value, write) != null) {
        throw new IllegalArgumentException(
            "value " + Edn.write(write.value) + " written twice (at " + position + ")");
      }
      if (pendingWrites.put(op.process(), write) != null) {
        throw new IllegalArgumentException(
            "process " + op.process() + " invokes at " + position + " while pending");
      }
      return;
    }
    Write write = pendingWrites.remove(op.process());
    if (write == null) {
      throw new IllegalArgumentException(
          "process " + op.process() + " completes a write at " + position + " it never invoked");
    }
    write.outcome = op.type();
    write.completePosition = position;
  }

  /** Duplicate and order checks of one event, in the order the consumer processed it. */
  private static void deliver(
      long consumerId,
      Consumer consumer,
      ChangefeedEvent event,
      long position,
      Anomalies anomalies) {
    Long earlier = consumer.seen.putIfAbsent(event.id(), position);
    if (earlier != null) {
      anomalies.add(
          new ChangefeedAnomaly(
              ChangefeedAnomaly.Rule.DUPLICATE,
              consumerId,
              event.id(),
              event.key(),
              event.value(),
              position,
              "already delivered at history position " + earlier));
      return;
    }
    ChangefeedEvent.Id last = consumer.lastByKey.get(event.key());
    if (last != null && last.compareTo(event.id()) > 0) {
      anomalies.add(
          new ChangefeedAnomaly(
              ChangefeedAnomaly.Rule.OUT_OF_ORDER,
              consumerId,
              event.id(),
              event.key(),
              event.value(),
              position,
              "delivered after " + last + " of the same key"));
    } else {
      consumer.lastByKey.put(event.key(), event.id());
    }
    consumer.deliveries.add(new Delivery(event, position));
    consumer.values.add(event.value());
  }

  /** The value check of every event a consumer processed, once every write's outcome is known. */
  private static void checkValues(
      long consumerId,
      Consumer consumer,
      Map<Object, Write> writesByValue,
      Anomalies anomalies,
      Set<Object> recovered) {
    for (Delivery delivery : consumer.deliveries) {
      ChangefeedEvent event = delivery.event();
      Write write = writesByValue.get(event.value());
      String why = null;
      if (ChangefeedEvent.DELETED.equals(event.value())) {
        why = "a DELETE; the workload never deletes";
      } else if (write == null) {
        why = "no write of this value";
      } else if (!write.key.equals(event.key())) {
        why = "the value was written to key " + Edn.write(write.key);
      } else if (write.outcome == OpType.FAIL) {
        why = "the write of this value failed";
      } else if (write.invokePosition > delivery.position()) {
        why = "delivered before its write was invoked (position " + write.invokePosition + ")";
      } else if (write.outcome != OpType.OK) {
        recovered.add(write.value);
      }
      if (why != null) {
        anomalies.add(
            new ChangefeedAnomaly(
                ChangefeedAnomaly.Rule.UNEXPECTED,
                consumerId,
                event.id(),
                event.key(),
                event.value(),
                delivery.position(),
                why));
      }
    }
  }

  private static Map<?, ?> valueMap(Op op, int position) {
    if (!(op.value() instanceof Map<?, ?> map)) {
      throw new IllegalArgumentException(
          "a consumer op's value is a map, not " + Edn.write(op.value()) + " at " + position);
    }
    return map;
  }

  private static long consumerOf(Map<?, ?> value, int position) {
    if (!(value.get(CONSUMER) instanceof Long consumer)) {
      throw new IllegalArgumentException("a consumer op without :consumer at " + position);
    }
    return consumer;
  }
}
