package io.ringkv.client;

import static org.assertj.core.api.Assertions.assertThat;

import io.ringkv.proto.v1.Member;
import io.ringkv.proto.v1.MembersResponse;
import io.ringkv.proto.v1.PartitionInfo;
import io.ringkv.proto.v1.PartitionsResponse;
import io.ringkv.routing.PartitionLayout;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Proves the idempotent consumer applies every event's effect exactly once across crashes: a seeded
 * log of events (several partitions, transactions of up to three events per revision) is consumed
 * by a handler that increments a counter per event key; the consumer is crashed at random points
 * (after the handler ran, before the commit, after the commit but before it noted the event), a
 * bounded number of times, and each time a new consumer of the same name resumes from what it
 * stored. Every counter must end exactly at the number of events of its key. The effects go to a
 * single-process KV stand-in on 127.0.0.119; the feed is a scripted publisher that honours the
 * resume cursor as a node does (every event after the cursor's revision, whole revisions).
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class IdempotentConsumerCrashTest {
  static final int PARTITIONS = 8;
  static final int SOURCE_PARTITIONS = 4;
  static final int REVISIONS = 150;
  static final int KEYS = 12;
  static final int CRASHES_MAX = 40;

  static final class Crash extends RuntimeException {
    Crash(String point) {
      super("crash at " + point, null, false, false);
    }
  }

  /** A feed of a fixed log: from the cursor (or from the start), in log order, then complete. */
  static Flow.Publisher<WatchItem> feed(List<WatchEvent> log, WatchQuery query) {
    WatchCursor cursor = query.cursor();
    List<WatchEvent> selected = new ArrayList<>();
    for (WatchEvent event : log) {
      long after = cursor.revision(event.partition()).orElse(0);
      if (event.revision() > after) {
        selected.add(event);
      }
    }
    return subscriber ->
        subscriber.onSubscribe(
            new Flow.Subscription() {
              int next;
              boolean cancelled;

              @Override
              public void request(long n) {
                for (long i = 0; i < n && !cancelled; i++) {
                  if (next < selected.size()) {
                    subscriber.onNext(selected.get(next++));
                  } else {
                    cancelled = true;
                    subscriber.onComplete();
                  }
                }
              }

              @Override
              public void cancel() {
                cancelled = true;
              }
            });
  }

  static List<WatchEvent> log(SplittableRandom random) {
    long[] revision = new long[SOURCE_PARTITIONS];
    List<WatchEvent> log = new ArrayList<>();
    for (int i = 0; i < REVISIONS; i++) {
      int partition = random.nextInt(SOURCE_PARTITIONS);
      revision[partition] += 1 + random.nextInt(3); // revisions of other keys are not watched
      int events = 1 + random.nextInt(3);
      for (int ordinal = 0; ordinal < events; ordinal++) {
        byte[] key = ("k" + random.nextInt(KEYS)).getBytes(StandardCharsets.UTF_8);
        log.add(
            new WatchEvent(
                partition,
                revision[partition],
                ordinal,
                WatchEvent.Kind.PUT,
                key,
                new byte[0],
                Optional.empty(),
                1,
                1,
                0,
                0,
                false,
                WatchCursor.empty()));
      }
    }
    return log;
  }

  static PartitionMap oneNodeMap(String address) {
    PartitionLayout layout = PartitionLayout.of(PARTITIONS);
    PartitionsResponse.Builder partitions =
        PartitionsResponse.newBuilder().setMapEpoch(1).setPartitionCount(PARTITIONS);
    for (int p = 0; p < PARTITIONS; p++) {
      partitions.addPartitions(
          PartitionInfo.newBuilder()
              .setId(p)
              .setHashStart(layout.rangeStart(p))
              .setHashEnd(layout.rangeEnd(p))
              .addReplicas(1)
              .setLeaderNodeId(1));
    }
    MembersResponse members =
        MembersResponse.newBuilder()
            .addMembers(Member.newBuilder().setNodeId(1).setClientAddress(address))
            .build();
    return PartitionMap.of(partitions.build(), members);
  }

  static final IdempotentConsumer.Handler COUNT_PER_KEY =
      (event, effects) -> {
        String counter = "count/" + event.keyUtf8();
        long before = effects.get(counter).map(e -> Long.parseLong(e.valueUtf8())).orElse(0L);
        effects.put(counter, Long.toString(before + 1));
      };

  @Test
  void everyEffectIsAppliedExactlyOnceAcrossRandomCrashes() throws Exception {
    long seed = Long.getLong("seed", System.nanoTime());
    System.out.println(
        "IdempotentConsumerCrashTest seed " + seed + " (rerun with -Dseed=" + seed + ")");
    SplittableRandom random = new SplittableRandom(seed);
    List<WatchEvent> log = log(random);
    Map<String, Integer> expected = new HashMap<>();
    log.forEach(e -> expected.merge("count/" + e.keyUtf8(), 1, Integer::sum));
    Map<String, Integer> crashesByPoint = new HashMap<>();
    try (InMemoryKv kv = new InMemoryKv()) {
      String address = kv.start("127.0.0.119");
      try (RingKvClient client =
          RingKvClient.builder().endpoints(address).deadline(Duration.ofSeconds(5)).build()) {
        client.router().install(oneNodeMap(address));
        int crashes = 0;
        int runs = 0;
        boolean finished = false;
        while (!finished) {
          runs++;
          assertThat(runs).as("runs").isLessThanOrEqualTo(CRASHES_MAX + 1);
          WatchQuery query = WatchQuery.prefix("k").fromOldest();
          IdempotentConsumer consumer =
              new IdempotentConsumer(client, "counter", query, COUNT_PER_KEY, q -> feed(log, q));
          boolean mayCrash = crashes < CRASHES_MAX;
          consumer.faultHook =
              point -> {
                if (mayCrash && random.nextInt(25) == 0) {
                  crashesByPoint.merge(point, 1, Integer::sum);
                  throw new Crash(point);
                }
              };
          try {
            consumer.run();
            finished = true;
          } catch (Crash crash) {
            crashes++;
          }
        }
        System.out.println("crashes by point: " + crashesByPoint + " in " + runs + " runs");
        assertThat(crashes).isPositive();
        for (Map.Entry<String, Integer> counter : expected.entrySet()) {
          assertThat(client.blocking().get(counter.getKey()))
              .as("counter %s", counter.getKey())
              .get()
              .extracting(Entry::valueUtf8)
              .isEqualTo(Integer.toString(counter.getValue()));
        }
      }
    }
  }

  @Test
  void recordKeysLandInTheirTargetPartition() throws Exception {
    try (InMemoryKv kv = new InMemoryKv();
        RingKvClient client = RingKvClient.builder().endpoints("127.0.0.119:1").build()) {
      client.router().install(oneNodeMap(kv.start("127.0.0.119")));
      IdempotentConsumer consumer =
          new IdempotentConsumer(
              client, "c", WatchQuery.all(), COUNT_PER_KEY, q -> feed(List.of(), q));
      consumer.load();
      PartitionLayout layout = PartitionLayout.of(PARTITIONS);
      for (int target = 0; target < PARTITIONS; target++) {
        byte[] key = consumer.recordKey(3, target);
        assertThat(layout.partitionOfKey(key)).isEqualTo(target);
        assertThat(new String(key, StandardCharsets.UTF_8))
            .startsWith("ringkv-consumer/c/3/" + target + "/{");
      }
    }
  }
}
