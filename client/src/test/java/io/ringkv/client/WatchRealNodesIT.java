package io.ringkv.client;

import static org.assertj.core.api.Assertions.assertThat;

import io.ringkv.client.cli.RingCtl;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * The watch client against a real three-node cluster (deploy/local-cluster.sh, node processes on
 * 127.0.0.111-113, a changefeed retention of 15 s): a watch whose serving node is killed (SIGKILL)
 * resumes on another node with every acknowledged write seen once and each key's events in revision
 * order; a subscriber taking one item at a time keeps the client to its buffer of responses; a
 * SNAPSHOT start delivers the current state then the changes after it; ringctl watch prints events
 * and a cursor from which a second run continues with nothing repeated; and a cursor older than
 * retention ends the watch with WatchCompactedException, or with on-compacted SNAPSHOT continues
 * from a snapshot.
 */
@Timeout(value = 400, unit = TimeUnit.SECONDS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class WatchRealNodesIT {
  static final Path ROOT = ClusterKvIT.ROOT;
  static final Path RUN_DIR = ROOT.resolve("client/target/it-watch-run");
  static final int ADDRESS_BASE = 110;
  static final String[] ENDPOINTS = {"127.0.0.111:7379", "127.0.0.112:7379", "127.0.0.113:7379"};
  static final long RETENTION_MILLIS = 15_000;
  static final Duration WAIT = Duration.ofSeconds(60);

  static final ScriptCluster CLUSTER =
      new ScriptCluster(
          ROOT,
          RUN_DIR,
          ADDRESS_BASE,
          Map.of(
              "RINGKV_PARTITIONS",
              "8",
              "RINGKV_NODE_FLAGS",
              "--changefeed-retention-age-millis "
                  + RETENTION_MILLIS
                  + " --changefeed-retention-check-interval-millis 500"
                  + " --watch-progress-interval-millis 200"));

  static void script(String... args) throws Exception {
    CLUSTER.script(args);
  }

  @BeforeAll
  static void startCluster() throws Exception {
    CLUSTER.startFresh(3);
  }

  @AfterAll
  static void stopCluster() throws Exception {
    script("stop");
  }

  static RingKvClient client() {
    return RingKvClient.builder().endpoints(ENDPOINTS).deadline(Duration.ofSeconds(20)).build();
  }

  static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  /** Waits for the created response, so that writes after this are inside the watch. */
  static void awaitCreated(WatchTestSubscriber subscriber) throws InterruptedException {
    assertThat(subscriber.next(WAIT)).isInstanceOf(WatchProgress.class);
  }

  @Test
  @Order(1)
  void killingTheServingNodeLosesAndRepeatsNothing() throws Exception {
    int writes = 300;
    try (RingKvClient client = client()) {
      WatchTestSubscriber subscriber = new WatchTestSubscriber(Long.MAX_VALUE);
      WatchSubscription watch = client.newWatch(WatchQuery.prefix("kill/"), subscriber);
      watch.start();
      awaitCreated(subscriber);
      String serving = watch.addresses().get(0);
      int servingIndex = Integer.parseInt(serving.split("[.:]")[3]) - ADDRESS_BASE;
      Set<String> acknowledged = new HashSet<>();
      Set<String> attempted = new HashSet<>();
      for (int i = 0; i < writes; i++) {
        if (i == writes / 3) {
          script("kill", Integer.toString(servingIndex));
        }
        String value = "v" + i;
        attempted.add(value);
        try {
          client.blocking().put(bytes("kill/k" + (i % 10)), bytes(value));
          acknowledged.add(value);
        } catch (OutcomeUnknownException e) {
          // may or may not appear in the feed
        }
      }
      Map<String, Long> lastRevisionByKey = new HashMap<>();
      Set<String> seen = new HashSet<>();
      long deadline = System.nanoTime() + WAIT.toNanos();
      while (!seen.containsAll(acknowledged)) {
        assertThat(System.nanoTime())
            .as("all acknowledged writes seen in time")
            .isLessThan(deadline);
        WatchItem item = subscriber.items.poll(1, TimeUnit.SECONDS);
        if (item instanceof WatchEvent event) {
          assertThat(seen.add(event.valueUtf8())).as("%s delivered once", event).isTrue();
          assertThat(attempted).contains(event.valueUtf8());
          Long before = lastRevisionByKey.put(event.keyUtf8(), event.revision());
          assertThat(before == null || before < event.revision()).as("order of %s", event).isTrue();
        }
        assertThat(subscriber.error).isNull();
      }
      assertThat(watch.restarts()).isPositive();
      assertThat(watch.addresses()).doesNotContain(serving);
      System.out.println(
          "killed node "
              + servingIndex
              + "; "
              + seen.size()
              + " events, "
              + acknowledged.size()
              + " acknowledged writes, restarts "
              + watch.restarts());
      watch.cancel();
      script("restart", Integer.toString(servingIndex));
    }
  }

  @Test
  @Order(2)
  void aSubscriberTakingOneItemAtATimeKeepsTheClientBuffered() throws Exception {
    int events = 1500;
    byte[] value = new byte[2048];
    try (RingKvClient client = client()) {
      WatchTestSubscriber subscriber = new WatchTestSubscriber(0);
      WatchSubscription watch =
          client.newWatch(WatchQuery.prefix("slow/").withResponsesBufferedMax(4), subscriber);
      watch.start();
      subscriber.subscription.request(1);
      awaitCreated(subscriber);
      for (int batch = 0; batch < events; batch += 100) {
        List<CompletableFuture<PutResult>> puts = new ArrayList<>();
        for (int i = batch; i < batch + 100; i++) {
          puts.add(client.put(bytes("slow/" + (i % 50)), value));
        }
        CompletableFuture.allOf(puts.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
      }
      Map<Integer, Long> lastByPartition = new HashMap<>();
      int received = 0;
      while (received < events) {
        subscriber.subscription.request(1);
        if (subscriber.next(WAIT) instanceof WatchEvent event) {
          received++;
          Long before = lastByPartition.put(event.partition(), event.revision());
          assertThat(before == null || before < event.revision()).as("order of %s", event).isTrue();
        }
      }
      System.out.println(
          "slow subscriber: "
              + received
              + " events, responses held at most "
              + watch.responsesHeldHighWater());
      assertThat(watch.responsesHeldHighWater()).isLessThanOrEqualTo(4);
      watch.cancel();
    }
  }

  @Test
  @Order(3)
  void aSnapshotStartDeliversTheCurrentStateThenTheChanges() throws Exception {
    try (RingKvClient client = client()) {
      for (int i = 0; i < 5; i++) {
        client.blocking().put("snap/" + i, "old");
        client.blocking().put("snap/" + i, "current-" + i);
      }
      WatchTestSubscriber subscriber = new WatchTestSubscriber(Long.MAX_VALUE);
      client.watch(WatchQuery.prefix("snap/").fromSnapshot()).subscribe(subscriber);
      List<WatchEvent> snapshot = subscriber.events(5, WAIT);
      assertThat(snapshot).allSatisfy(event -> assertThat(event.fromSnapshot()).isTrue());
      assertThat(snapshot.stream().map(e -> e.keyUtf8() + "=" + e.valueUtf8()))
          .containsExactlyInAnyOrder(
              "snap/0=current-0",
              "snap/1=current-1",
              "snap/2=current-2",
              "snap/3=current-3",
              "snap/4=current-4");
      client.blocking().put("snap/2", "after");
      WatchEvent change = subscriber.events(1, WAIT).get(0);
      assertThat(change.fromSnapshot()).isFalse();
      assertThat(change.keyUtf8() + "=" + change.valueUtf8()).isEqualTo("snap/2=after");
    }
  }

  static List<String> ringctl(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    List<String> command = new ArrayList<>(List.of("--endpoints", String.join(",", ENDPOINTS)));
    command.addAll(List.of(args));
    int code =
        RingCtl.run(new PrintWriter(out), new PrintWriter(err), command.toArray(String[]::new));
    assertThat(code).as("ringctl %s exit; stderr: %s", command, err).isZero();
    return out.toString().lines().toList();
  }

  @Test
  @Order(4)
  void ringctlWatchPrintsEventsAndACursorToResumeFrom() throws Exception {
    try (RingKvClient client = client()) {
      // A writer counts up cli/n while the first watch runs (it starts NOW, so the writer keeps
      // writing until the watch has printed its two events), and stops when the watch has ended.
      CompletableFuture<List<String>> first =
          CompletableFuture.supplyAsync(() ->
              ringctl("watch", "--prefix", "cli/", "--max-events", "2", "--output", "ndjson"));
      int written = 0;
      while (!first.isDone()) {
        assertThat(written).as("writes before the first watch ended").isLessThan(2000);
        client.blocking().put("cli/n", Integer.toString(written++));
        TimeUnit.MILLISECONDS.sleep(20); // write pace, not a wait for a condition
      }
      for (int more = 0; more < 3; more++) { // values after the last one the first watch printed
        client.blocking().put("cli/n", Integer.toString(written++));
      }
      List<String> firstLines = first.get();
      assertThat(firstLines).hasSize(3);
      assertThat(firstLines.get(0)).contains("\"key\":\"cli/n\"", "\"kind\":\"put\"");
      int lastPrinted =
          Integer.parseInt(firstLines.get(1).replaceAll(".*\"value\":\"([0-9]+)\".*", "$1"));
      assertThat(firstLines.get(2)).startsWith("{\"cursor\":");
      String cursor = firstLines.get(2).replaceAll(".*\"cursor\":\"([^\"]*)\".*", "$1");
      // Resumed from the printed cursor: the next value, with its previous one, nothing repeated.
      List<String> second =
          ringctl(
              "watch",
              "--prefix",
              "cli/",
              "--from",
              cursor,
              "--max-events",
              "1",
              "--prev-kv",
              "--timeout",
              "30s");
      assertThat(second).hasSize(2);
      assertThat(second.get(0))
          .startsWith("PUT\tcli/n\t" + (lastPrinted + 1) + "\t(was " + lastPrinted + ")");
      assertThat(second.get(1)).startsWith("cursor: ");
      // The rest, in order, up to the last value written; then only the cursor.
      List<String> third =
          ringctl(
              "watch", "--prefix", "cli/", "--from", second.get(1).substring(8), "--timeout", "3s");
      List<String> expected = new ArrayList<>();
      for (int value = lastPrinted + 2; value < written; value++) {
        expected.add("PUT\tcli/n\t" + value);
      }
      assertThat(third.subList(0, third.size() - 1).stream().map(line -> line.split("\t\\[")[0]))
          .containsExactlyElementsOf(expected);
      assertThat(third.get(third.size() - 1)).startsWith("cursor: ");
    }
  }

  @Test
  @Order(5)
  void aCursorOlderThanRetentionFailsTypedOrContinuesFromASnapshot() throws Exception {
    try (RingKvClient client = client()) {
      PutResult early = client.blocking().put("gone/k", "early");
      int partition =
          client.router().refresh().get(10, TimeUnit.SECONDS).partitionOf(bytes("gone/k"));
      WatchCursor stale = WatchCursor.empty().with(partition, early.revision() - 1);
      WatchQuery query = WatchQuery.key("gone/k").fromCursor(stale, WatchQuery.Start.NOW);
      long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(RETENTION_MILLIS * 4);
      WatchCompactedException compacted = null;
      while (compacted == null) {
        assertThat(System.nanoTime()).as("the change was compacted in time").isLessThan(deadline);
        client.blocking().put("gone/other", "tick"); // the partition moves on
        WatchTestSubscriber subscriber = new WatchTestSubscriber(Long.MAX_VALUE);
        client.watch(query).subscribe(subscriber);
        subscriber.await(s -> s.error != null || !s.items.isEmpty(), WAIT, "an answer");
        if (subscriber.error instanceof WatchCompactedException e) {
          compacted = e;
        } else {
          subscriber.subscription.cancel();
          TimeUnit.MILLISECONDS.sleep(500); // retention is by age: poll until it passed
        }
      }
      assertThat(compacted.partition()).isEqualTo(partition);
      assertThat(compacted.oldestRetained().get(partition)).isGreaterThan(early.revision());

      WatchTestSubscriber fallback = new WatchTestSubscriber(Long.MAX_VALUE);
      client.watch(query.withOnCompacted(WatchQuery.OnCompacted.SNAPSHOT)).subscribe(fallback);
      WatchEvent state = fallback.events(1, WAIT).get(0);
      assertThat(state.fromSnapshot()).isTrue();
      assertThat(state.valueUtf8()).isEqualTo("early");
      client.blocking().put("gone/k", "later");
      WatchEvent change = fallback.events(1, WAIT).get(0);
      assertThat(change.fromSnapshot()).isFalse();
      assertThat(change.valueUtf8()).isEqualTo("later");
      assertThat(fallback.error).isNull();
    }
  }
}
