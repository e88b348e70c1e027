package io.ringkv.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.micrometer.core.instrument.Counter;
import io.ringkv.proto.internal.NodeScanGrpc;
import io.ringkv.proto.internal.NodeScanRequest;
import io.ringkv.proto.internal.NodeScanResponse;
import io.ringkv.proto.internal.NotServed;
import io.ringkv.proto.v1.ClusterGrpc;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.proto.v1.KeyValue;
import io.ringkv.proto.v1.PartitionInfo;
import io.ringkv.proto.v1.PartitionsRequest;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.proto.v1.ReadConsistency;
import io.ringkv.proto.v1.ScanRequest;
import io.ringkv.proto.v1.ScanResponse;
import io.ringkv.proto.v1.TransferLeaderRequest;
import io.ringkv.server.config.ConfigLoader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Scans that ask each node once (NodeScan) rather than each partition, on real in-process nodes
 * (127.0.10.1-4, real sockets and RocksDB). Proves, with randomized data and requests (seed
 * printed, replay with -Dseed=S): a Scan through any node, paged to the end with next_key, returns
 * exactly the acknowledged pairs of its range, which is also the union of per-partition scans;
 * pages cut by limit or by bytes (a 64 KiB response limit) resume exactly and never exceed the
 * response limit, also for keys only over values larger than the page; on a stable cluster a page
 * costs at most nodes - 1 forwarded calls (counted by ringkv.scan.forwards), and a Scan marked as
 * forwarded is answered NOT_LEADER rather than forwarded again; a node asked for partitions it does
 * not lead names them back, each with its leader, and serves the rest; a scan through a node whose
 * view of a leader is stale retries that partition alone and stays exact; scans stay exact while
 * leadership moves under them; and a node holding more of a page than its share is asked again, and
 * the page stays exact.
 */
class ScanByNodeTest {
  private static final String[] THREE = {"127.0.10.1", "127.0.10.2", "127.0.10.3"};
  private static final String[] FOUR = {"127.0.10.1", "127.0.10.2", "127.0.10.3", "127.0.10.4"};
  private static final int PARTITIONS = 8;
  private static final long WAIT_SECONDS = 60;
  private static final int RESPONSE_BYTES_MAX = 64 * 1024;

  @TempDir Path dataDir;
  private final List<AutoCloseable> toClose = new ArrayList<>();
  private RingkvNode[] nodes = new RingkvNode[0];
  private KVGrpc.KVBlockingStub[] kv;
  private ClusterGrpc.ClusterBlockingStub[] cluster;
  private ManagedChannel[] channels;
  private final NavigableMap<ByteString, ByteString> acknowledged =
      new TreeMap<>(ByteString.unsignedLexicographicalComparator());

  @AfterEach
  void closeAll() throws Exception {
    LocalTestCluster.closeAll(toClose, nodes);
  }

  @Test
  void scansMatchPerPartitionScansAndForwardAtMostOncePerOtherNode() throws Exception {
    SplittableRandom random = seeded("scansMatchPerPartitionScans");
    start(THREE);
    writeRandomPairs(random, 400, 200);

    List<KeyValue> everything = scanAll(random, 0, ScanRequest.newBuilder(), 1000);
    assertThat(keys(everything)).containsExactlyElementsOf(acknowledged.keySet());
    List<KeyValue> union = new ArrayList<>();
    for (int partition = 0; partition < PARTITIONS; partition++) {
      union.addAll(partitionPage(random.nextInt(nodes.length), partition).getKvsList());
    }
    union.sort((a, b) -> compare(a.getKey(), b.getKey()));
    assertThat(union).as("union of per-partition scans").containsExactlyElementsOf(everything);

    for (int round = 0; round < 40; round++) {
      ScanRequest.Builder request = randomRequest(random);
      List<KeyValue> got = scanAll(random, random.nextInt(nodes.length), request, 60);
      assertThat(keys(got)).as("scan %s", request).containsExactlyElementsOf(expected(request));
      for (KeyValue pair : got) {
        assertThat(pair.getValue())
            .isEqualTo(request.getKeysOnly() ? ByteString.EMPTY : acknowledged.get(pair.getKey()));
      }
    }

    // Stable cluster: count forwarded calls per page (retried if leadership moved meanwhile).
    boolean counted = false;
    for (int attempt = 0; attempt < 3 && !counted; attempt++) {
      Map<Integer, Long> leadersBefore = leaders();
      long[] forwards = new long[nodes.length];
      int[] pages = new int[nodes.length];
      for (int node = 0; node < nodes.length; node++) {
        for (int page = 0; page < 10; page++) {
          double before = forwards(node);
          ScanResponse answer =
              kv[node]
                  .withDeadlineAfter(10, TimeUnit.SECONDS)
                  .scan(ScanRequest.newBuilder().setLimit(1 + random.nextInt(50)).build());
          assertThat(answer.getKvsCount()).isGreaterThan(0);
          forwards[node] += (long) (forwards(node) - before);
          pages[node]++;
        }
      }
      counted = leaders().equals(leadersBefore);
      if (counted) {
        System.out.printf(
            "forwarded calls per node over %s pages: %s (leaders %s)%n",
            java.util.Arrays.toString(pages), java.util.Arrays.toString(forwards), leadersBefore);
        for (int node = 0; node < nodes.length; node++) {
          assertThat(forwards[node])
              .as("forwarded calls of node %d over %d pages", node + 1, pages[node])
              .isLessThanOrEqualTo((long) (nodes.length - 1) * pages[node]);
        }
      }
    }
    assertThat(counted).as("leadership stayed put for one counting round").isTrue();

    // A Scan marked as forwarded is never forwarded again: a node that does not lead every
    // partition answers NOT_LEADER and asks no other node.
    Map<Integer, Long> leaders = leaders();
    int notAllLeader = leaders.values().stream().allMatch(leader -> leader == 1L) ? 1 : 0;
    Metadata forwarded = new Metadata();
    forwarded.put(ForwardingHeaders.FORWARDED, "99");
    double before = forwards(notAllLeader);
    assertThatThrownBy(() ->
            kv[notAllLeader]
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(forwarded))
                .withDeadlineAfter(10, TimeUnit.SECONDS)
                .scan(ScanRequest.getDefaultInstance()))
        .satisfies(e ->
            SingleNodeKvTest.assertCode(
                e,
                io.grpc.Status.Code.UNAVAILABLE,
                io.ringkv.proto.v1.ErrorDetail.Reason.NOT_LEADER));
    assertThat(forwards(notAllLeader)).isEqualTo(before);
  }

  @Test
  void pagesCutByLimitOrBytesResumeExactlyAndStayWithinTheResponseLimit() throws Exception {
    SplittableRandom random = seeded("pagesCutByLimitOrBytes");
    start(
        THREE,
        "--response-size-bytes-max",
        Integer.toString(RESPONSE_BYTES_MAX),
        "--value-size-bytes-max",
        Integer.toString(16 * 1024),
        "--key-size-bytes-max",
        "1024");
    writeRandomPairs(random, 120, 12 * 1024);
    int cutByBytes = 0;
    for (int round = 0; round < 12; round++) {
      ScanRequest.Builder request = randomRequest(random);
      int limit = 1 + random.nextInt(40);
      List<KeyValue> got = new ArrayList<>();
      ScanRequest.Builder next = request.clone().setLimit(limit);
      while (true) {
        ScanResponse page =
            kv[random.nextInt(nodes.length)]
                .withDeadlineAfter(10, TimeUnit.SECONDS)
                .scan(next.build());
        assertThat(page.getSerializedSize()).isLessThanOrEqualTo(RESPONSE_BYTES_MAX);
        assertThat(page.getKvsCount()).isLessThanOrEqualTo(limit);
        got.addAll(page.getKvsList());
        if (!page.getMore()) {
          break;
        }
        if (page.getKvsCount() < limit) {
          cutByBytes++;
        }
        next = resumeAfter(next, page);
      }
      assertThat(keys(got)).as("scan %s", request).containsExactlyElementsOf(expected(request));
    }
    assertThat(cutByBytes).as("pages cut by bytes").isGreaterThan(0);

    // Keys only over large values: the store's byte budget counts the values the page leaves out,
    // so a partition page the store cut must still say that more follow (it once did not, and such
    // a scan silently skipped keys).
    for (int node = 0; node < nodes.length; node++) {
      assertThat(keys(scanAll(node, ScanRequest.newBuilder().setKeysOnly(true), () -> 1000)))
          .as("keys-only scan through node %d", node + 1)
          .containsExactlyElementsOf(acknowledged.keySet());
    }

    // A node asked for every partition serves those it leads and names the others' leaders.
    Map<Integer, Long> leaders = leaders();
    for (int node = 0; node < nodes.length; node++) {
      NodeScanRequest.Builder share =
          NodeScanRequest.newBuilder()
              .setPage(ScanRequest.newBuilder().setLimit(1001).setKeysOnly(true));
      Set<Integer> notLed = new HashSet<>();
      for (int partition = 0; partition < PARTITIONS; partition++) {
        share.addPartitions(partition);
        if (leaders.get(partition) != node + 1) {
          notLed.add(partition);
        }
      }
      NodeScanResponse answer =
          NodeScanGrpc.newBlockingStub(channels[node])
              .withDeadlineAfter(10, TimeUnit.SECONDS)
              .scanPartitions(share.build());
      if (!leaders().equals(leaders)) {
        continue; // leadership moved while we asked: nothing to compare with
      }
      Set<Integer> refused = new HashSet<>();
      for (NotServed notServed : answer.getNotServedList()) {
        refused.add(notServed.getPartition());
        assertThat(notServed.getLeaderHint()).isEqualTo(leaders.get(notServed.getPartition()));
      }
      assertThat(refused).as("partitions node %d does not lead", node + 1).isEqualTo(notLed);
      List<ByteString> served = new ArrayList<>();
      for (ByteString key : acknowledged.keySet()) {
        int partition = nodes[0].config().partitionLayout().partitionOfKey(key.toByteArray());
        if (!notLed.contains(partition)) {
          served.add(key);
        }
      }
      assertThat(answer.getPage().getSerializedSize()).isLessThanOrEqualTo(RESPONSE_BYTES_MAX);
      List<ByteString> got = keys(answer.getPage().getKvsList());
      // A page cut by bytes holds the first of them, in order; an uncut one holds all.
      assertThat(got)
          .containsExactlyElementsOf(
              answer.getPage().getMore() ? served.subList(0, got.size()) : served);
    }
  }

  @Test
  void aStaleLeaderViewAndMovingLeadersLeaveScansExact() throws Exception {
    SplittableRandom random = seeded("aStaleLeaderView");
    // Four nodes, three replicas each: a node that holds no replica of a partition routes it by the
    // leader it last heard of, which a transfer makes stale.
    start(FOUR);
    writeRandomPairs(random, 200, 100);
    int asker = 0;
    int partition = -1;
    for (int p = 0; p < PARTITIONS && partition < 0; p++) {
      if (!replicas(p).contains((long) asker + 1)) {
        partition = p;
      }
    }
    assertThat(partition).as("a partition node 1 holds no replica of").isNotNegative();
    assertThat(keys(scanAll(random, asker, ScanRequest.newBuilder(), 1000)))
        .containsExactlyElementsOf(acknowledged.keySet()); // node 1 learns the leaders
    long from = leaders().get(partition);
    long to = replicas(partition).stream().filter(id -> id != from).findFirst().orElseThrow();
    transfer(partition, to);
    double retriedBefore = counter(asker, "partition").count();
    assertThat(keys(scanAll(random, asker, ScanRequest.newBuilder(), 1000)))
        .containsExactlyElementsOf(acknowledged.keySet());
    assertThat(counter(asker, "partition").count() - retriedBefore)
        .as("partition %d, asked of its old leader %d, retried alone", partition, from)
        .isGreaterThanOrEqualTo(1);

    // Leadership moves while scans run through every node: each scan stays exact. The mover
    // transfers once per two scans, so transfers and scans interleave.
    AtomicReference<Throwable> mover = new AtomicReference<>();
    java.util.concurrent.atomic.AtomicInteger scans =
        new java.util.concurrent.atomic.AtomicInteger();
    int transfers = 12;
    long moverSeed = random.nextLong();
    Thread moves =
        new Thread(() -> {
          SplittableRandom moverRandom = new SplittableRandom(moverSeed);
          try {
            for (int i = 0; i < transfers; i++) {
              int scansBefore = 2 * i;
              LocalTestCluster.awaitTrue(
                  "two scans per transfer", WAIT_SECONDS, () -> scans.get() >= scansBefore);
              int p = moverRandom.nextInt(PARTITIONS);
              List<Long> voters = replicas(p);
              transfer(p, voters.get(moverRandom.nextInt(voters.size())));
            }
          } catch (Throwable e) {
            mover.set(e);
          }
        });
    moves.start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
    while ((moves.isAlive() || scans.get() < 2 * transfers)
        && scans.get() < 500
        && System.nanoTime() < deadline) {
      ScanRequest.Builder request = randomRequest(random);
      List<KeyValue> got = scanAll(random, random.nextInt(nodes.length), request, 30);
      assertThat(keys(got)).as("scan %s", request).containsExactlyElementsOf(expected(request));
      scans.incrementAndGet();
    }
    moves.join(TimeUnit.SECONDS.toMillis(WAIT_SECONDS));
    assertThat(moves.isAlive()).isFalse();
    assertThat(mover.get()).isNull();
    double retried = 0;
    for (int node = 0; node < nodes.length; node++) {
      retried += counter(node, "partition").count();
    }
    System.out.printf(
        "%d scans under %d leader transfers, %.0f partitions retried alone%n",
        scans.get(), transfers, retried);
  }

  // ---------------------------------------------------------------- cluster

  /**
   * A node whose partitions hold most of a page (keys under one hash tag, all in one partition)
   * answers more than the share it is first asked for: it is asked again from after its last pair,
   * and the merged page is still exactly the first keys of the range.
   */
  @Test
  void aNodeHoldingMostOfAPageIsAskedAgainAndThePageStaysExact() throws Exception {
    SplittableRandom random = seeded("aNodeHoldingMostOfAPage");
    start(THREE);
    writeRandomPairs(random, 60, 100);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
    for (int i = 0; i < 150; i++) {
      PutRequest put =
          PutRequest.newBuilder()
              .setKey(ByteString.copyFromUtf8(String.format("t/{tag}%03d", i)))
              .setValue(ByteString.copyFromUtf8("v" + i))
              .build();
      LocalTestCluster.putRetrying(kv[random.nextInt(nodes.length)], put, 10, deadline);
      acknowledged.put(put.getKey(), put.getValue());
    }
    int tagged =
        nodes[0]
            .config()
            .partitionLayout()
            .partitionOfKey(ByteString.copyFromUtf8("t/{tag}").toByteArray());
    boolean seenAskedAgain = false;
    for (int attempt = 0; attempt < 5 && !seenAskedAgain; attempt++) {
      // The tagged partition to the node leading fewest partitions, so that its first share (for
      // at most 3 of 8 partitions) is below a full page and the 150 tagged keys overflow it.
      Map<Integer, Long> before = leaders();
      long fewest = 1;
      for (long node = 1; node <= nodes.length; node++) {
        final long candidate = node;
        final long current = fewest;
        if (before.values().stream().filter(n -> n == candidate).count()
            < before.values().stream().filter(n -> n == current).count()) {
          fewest = node;
        }
      }
      transfer(tagged, fewest);
      Map<Integer, Long> leaders = leaders();
      long leader = leaders.get(tagged);
      int through = (int) (leader % nodes.length); // a node that does not lead the tagged partition
      long otherLeaders =
          leaders.values().stream().filter(node -> node != through + 1).distinct().count();
      int share = (int) leaders.values().stream().filter(node -> node == leader).count();
      boolean cut = ScanFanOut.shareLimit(101, share, PARTITIONS) < 101;
      for (ScanRequest.Builder request :
          List.of(
              ScanRequest.newBuilder().setPrefix(ByteString.copyFromUtf8("t/")),
              ScanRequest.newBuilder().setStartKey(ByteString.copyFromUtf8("t/")),
              ScanRequest.newBuilder()
                  .setStartKey(ByteString.copyFromUtf8("t/{tag}0"))
                  .setEndKey(ByteString.copyFromUtf8("t/{tag}2")))) {
        double calls = counter(through, "node").count();
        ScanResponse page = scanPage(through, request.clone().setLimit(100).build());
        double asked = counter(through, "node").count() - calls;
        List<ByteString> expected = expected(request);
        assertThat(keys(page.getKvsList()))
            .as("scan %s through node %d", request, through + 1)
            .containsExactlyElementsOf(expected.subList(0, Math.min(100, expected.size())));
        assertThat(page.getMore()).isEqualTo(expected.size() > 100);
        if (cut && leaders().equals(leaders)) {
          assertThat(asked).as("node calls of one page").isEqualTo(otherLeaders + 1.0);
          seenAskedAgain = true;
        }
      }
    }
    assertThat(seenAskedAgain).as("a round with the tagged leader asked again").isTrue();
  }

  private static SplittableRandom seeded(String test) {
    long seed = Long.getLong("seed", System.nanoTime());
    System.out.println(
        "ScanByNodeTest." + test + " seed " + seed + " (replay with -Dseed=" + seed + ")");
    return new SplittableRandom(seed);
  }

  private void start(String[] hosts, String... extraFlags) throws Exception {
    String[] common = {
      "--partitions",
      Integer.toString(PARTITIONS),
      "--raft-tick-millis",
      "20",
      // Leaders stay where elections put them, so forwarded calls can be counted on a still
      // cluster.
      "--leader-balance-interval-millis",
      "0"
    };
    String[][] flags =
        LocalTestCluster.flags(
            dataDir,
            hosts,
            "scan-test",
            java.util.stream.Stream.concat(
                    java.util.Arrays.stream(common), java.util.Arrays.stream(extraFlags))
                .toArray(String[]::new));
    nodes = new RingkvNode[hosts.length];
    kv = new KVGrpc.KVBlockingStub[hosts.length];
    cluster = new ClusterGrpc.ClusterBlockingStub[hosts.length];
    channels = new ManagedChannel[hosts.length];
    for (int i = 0; i < hosts.length; i++) {
      nodes[i] = RingkvNode.start(ConfigLoader.load(flags[i]));
      channels[i] = LocalTestCluster.channel(nodes[i], toClose);
      kv[i] = KVGrpc.newBlockingStub(channels[i]);
      cluster[i] = ClusterGrpc.newBlockingStub(channels[i]);
    }
    LocalTestCluster.awaitTrue(
        "every partition's leader known to each of its replicas",
        WAIT_SECONDS,
        () -> {
          for (int i = 0; i < hosts.length; i++) {
            for (PartitionInfo info : partitions(i)) {
              if (info.getReplicasList().contains((long) i + 1) && info.getLeaderNodeId() == 0) {
                return false;
              }
            }
          }
          return true;
        });
  }

  private List<PartitionInfo> partitions(int node) {
    return cluster[node]
        .withDeadlineAfter(5, TimeUnit.SECONDS)
        .partitions(PartitionsRequest.getDefaultInstance())
        .getPartitionsList();
  }

  private List<Long> replicas(int partition) {
    return partitions(0).get(partition).getReplicasList();
  }

  /** Each partition's leader, as its first replica sees it (0 while it knows none). */
  private Map<Integer, Long> leaders() {
    Map<Integer, Long> leaders = new TreeMap<>();
    for (int partition = 0; partition < PARTITIONS; partition++) {
      int replica = (int) (long) replicas(partition).get(0) - 1;
      leaders.put(partition, partitions(replica).get(partition).getLeaderNodeId());
    }
    return leaders;
  }

  private void transfer(int partition, long to) throws Exception {
    int via = (int) to - 1;
    LocalTestCluster.awaitTrue(
        "partition " + partition + " led by node " + to,
        WAIT_SECONDS,
        () -> {
          try {
            return cluster[via]
                    .withDeadlineAfter(10, TimeUnit.SECONDS)
                    .transferLeader(
                        TransferLeaderRequest.newBuilder()
                            .setPartition(partition)
                            .setToNodeId(to)
                            .build())
                    .getLeaderNodeId()
                == to;
          } catch (StatusRuntimeException e) {
            return false; // no leader at this instant: ask again
          }
        });
  }

  private Counter counter(int node, String kind) {
    return nodes[node].registry().find("ringkv.scan.forwards").tag("kind", kind).counter();
  }

  private double forwards(int node) {
    return counter(node, "node").count() + counter(node, "partition").count();
  }

  // ---------------------------------------------------------------- data and scans

  /** Puts {@code count} random pairs under three prefixes, values up to {@code valueBytesMax}. */
  private void writeRandomPairs(SplittableRandom random, int count, int valueBytesMax) {
    String[] prefixes = {"a/", "b/", "c/"};
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
    for (int i = 0; i < count; i++) {
      StringBuilder key = new StringBuilder(prefixes[random.nextInt(prefixes.length)]);
      for (int length = 1 + random.nextInt(12); length > 0; length--) {
        key.append((char) ('0' + random.nextInt(43)));
      }
      byte[] value = new byte[random.nextInt(valueBytesMax + 1)];
      random.nextBytes(value);
      PutRequest put =
          PutRequest.newBuilder()
              .setKey(ByteString.copyFromUtf8(key.toString()))
              .setValue(ByteString.copyFrom(value))
              .build();
      LocalTestCluster.putRetrying(kv[random.nextInt(nodes.length)], put, 10, deadline);
      acknowledged.put(put.getKey(), put.getValue());
    }
  }

  /** A prefix, a bounded range or an open range; either consistency; values or keys only. */
  private static ScanRequest.Builder randomRequest(SplittableRandom random) {
    ScanRequest.Builder request = ScanRequest.newBuilder();
    String[] bounds = {"", "a/", "a/5", "b/", "b/K", "c/", "c/3", "d"};
    switch (random.nextInt(3)) {
      case 0 -> request.setPrefix(ByteString.copyFromUtf8(bounds[1 + random.nextInt(6)]));
      case 1 -> {
        int start = random.nextInt(bounds.length - 1);
        int end = start + 1 + random.nextInt(bounds.length - start - 1);
        request
            .setStartKey(ByteString.copyFromUtf8(bounds[start]))
            .setEndKey(ByteString.copyFromUtf8(bounds[end]));
      }
      default ->
          request.setStartKey(ByteString.copyFromUtf8(bounds[random.nextInt(bounds.length)]));
    }
    return request
        .setConsistency(
            random.nextInt(4) == 0 ? ReadConsistency.SERIALIZABLE : ReadConsistency.LINEARIZABLE)
        .setKeysOnly(random.nextInt(4) == 0);
  }

  private List<ByteString> expected(ScanRequest.Builder request) {
    List<ByteString> keys = new ArrayList<>();
    for (ByteString key : acknowledged.keySet()) {
      boolean in =
          request.getPrefix().isEmpty()
              ? compare(key, request.getStartKey()) >= 0
                  && (request.getEndKey().isEmpty() || compare(key, request.getEndKey()) < 0)
              : key.startsWith(request.getPrefix());
      if (in) {
        keys.add(key);
      }
    }
    return keys;
  }

  /** Pages {@code request} to its end through {@code node}, each page at most {@code limitMax}. */
  private List<KeyValue> scanAll(
      SplittableRandom random, int node, ScanRequest.Builder request, int limitMax) {
    return scanAll(node, request, () -> 1 + random.nextInt(limitMax));
  }

  private List<KeyValue> scanAll(
      int node, ScanRequest.Builder request, java.util.function.IntSupplier limits) {
    List<KeyValue> got = new ArrayList<>();
    ScanRequest.Builder next = request.clone();
    for (int pages = 0; pages < 10_000; pages++) {
      int limit = limits.getAsInt();
      ScanResponse page = scanPage(node, next.setLimit(limit).build());
      assertThat(page.getKvsCount()).isLessThanOrEqualTo(limit);
      got.addAll(page.getKvsList());
      if (!page.getMore()) {
        return got;
      }
      next = resumeAfter(next, page);
    }
    throw new AssertionError("a scan did not end within 10000 pages");
  }

  /** The next page's request: from next_key on, within the same range. */
  private static ScanRequest.Builder resumeAfter(ScanRequest.Builder request, ScanResponse page) {
    assertThat(page.getKvsCount()).as("a page with more to come holds pairs").isGreaterThan(0);
    ScanRequest.Builder next = request.clone();
    if (!request.getPrefix().isEmpty()) {
      ByteString prefix = request.getPrefix();
      next.clearPrefix().setStartKey(prefix).setEndKey(prefixEnd(prefix));
    }
    return next.setStartKey(page.getNextKey());
  }

  private static ByteString prefixEnd(ByteString prefix) {
    byte[] end = prefix.toByteArray();
    end[end.length - 1]++; // the test's prefixes end in a byte below 0xff
    return ByteString.copyFrom(end);
  }

  /** A Scan page: never retried here, so a scan that fails under moving leaders fails the test. */
  private ScanResponse scanPage(int node, ScanRequest request) {
    return kv[node].withDeadlineAfter(10, TimeUnit.SECONDS).scan(request);
  }

  /**
   * One partition's page as the per-partition path serves it (the header forwarded pages carry).
   */
  private ScanResponse partitionPage(int node, int partition) {
    Metadata headers = new Metadata();
    headers.put(ForwardingHeaders.SCAN_PARTITION, Integer.toString(partition));
    return kv[node]
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
        .withDeadlineAfter(10, TimeUnit.SECONDS)
        .scan(ScanRequest.newBuilder().setLimit(1001).build());
  }

  private static List<ByteString> keys(List<KeyValue> pairs) {
    return pairs.stream().map(KeyValue::getKey).toList();
  }

  private static int compare(ByteString a, ByteString b) {
    return ByteString.unsignedLexicographicalComparator().compare(a, b);
  }
}
