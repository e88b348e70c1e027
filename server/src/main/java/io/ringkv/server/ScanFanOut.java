package io.ringkv.server;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.ringkv.proto.internal.NodeScanRequest;
import io.ringkv.proto.internal.NodeScanResponse;
import io.ringkv.proto.internal.NotServed;
import io.ringkv.proto.v1.KeyValue;
import io.ringkv.proto.v1.ScanRequest;
import io.ringkv.proto.v1.ScanResponse;
import io.ringkv.raft.Invariants;
import io.ringkv.raft.Role;
import io.ringkv.server.config.Limits;
import io.ringkv.server.raft.DriverException;
import io.ringkv.server.raft.GroupStatus;
import io.ringkv.server.raft.MultiRaftDriver;
import io.ringkv.storage.PartitionReadView;
import io.ringkv.storage.ScanRange;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/**
 * Serves a Scan: reads every partition at once and merges their pairs in key order.
 *
 * <p>Design notes. A scan needs the first limit + 1 pairs over all partitions: a source with more
 * than {@code limit} in range proves there is more, so the merged page is exact and {@code
 * next_key} resumes right after its last key. The partitions one node serves are merged on that
 * node as they are read ({@link PartitionPageMerge}), so a node reads about the pairs it returns,
 * not limit + 1 of each partition. Pages are cut by bytes as well, so that no response (a
 * partition's page, a node's page, and the merged page) exceeds response-size-bytes-max; a page cut
 * by bytes says so with {@code more}, and the merged page ends at its last key.
 *
 * <p>Partitions are grouped by the node that serves them (the router's view of leaders): this
 * node's own are read in-process, and each other node is asked once, through {@code NodeScan}, for
 * all of its partitions, for about its share of the page (its partitions' share of the key space,
 * with a margin); it answers their pairs already merged (a page that is short, or ends with {@code
 * more}, like a partition's). A node whose pairs fill what it was asked for is asked again, from
 * after its last pair and for a full page, only when the merged page would otherwise end early, so
 * a scan costs one forwarded call per other node, rarely two. A partition whose leader is unknown,
 * or that the asked node no longer serves (leadership or a replica moved), goes the per-partition
 * way through {@link LeaderRouter#route}, which retries within the call's deadline. A page
 * forwarded by another node for one partition (marked with its partition) is served for that
 * partition alone. Runs on the call executor; never on the transport thread.
 */
final class ScanFanOut {
  /** Room in a page for the header, next key tag and flags (the next key itself is counted). */
  static final int PAGE_ROOM_BYTES = 1024;

  /** Upper bound of a pair's encoding beyond its key and value: tags, lengths, three varints. */
  static final int PAIR_OVERHEAD_BYTES = 48;

  /**
   * Partitions one NodeScan call may list; a node serving more is asked in several calls. Bounds
   * the answer's list of partitions not served, which must fit in the room a forwarded response has
   * beyond response-size-bytes-max.
   */
  static final int NODE_SCAN_PARTITIONS_MAX = 512;

  /** Upper bound of one encoded {@code NotServed} entry: tags, lengths, two varints. */
  static final int NOT_SERVED_ENTRY_BYTES_MAX = 24;

  static {
    Invariants.check(
        (long) NODE_SCAN_PARTITIONS_MAX * NOT_SERVED_ENTRY_BYTES_MAX + PAGE_ROOM_BYTES
            <= Limits.RESPONSE_OVERHEAD_BYTES,
        "a NodeScan answer's list of partitions not served must fit in the response overhead");
  }

  private final long nodeId;
  private final RequestValidation validation;
  private final MultiRaftDriver driver;
  private final LeaderRouter router;
  private final PeerChannels peers;
  private final Executor callExecutor;

  /** Forwarded calls a scan made: one per other node asked, one per partition forwarded alone. */
  private final Counter nodeForwards;

  private final Counter partitionForwards;

  ScanFanOut(
      long nodeId,
      RequestValidation validation,
      MultiRaftDriver driver,
      LeaderRouter router,
      PeerChannels peers,
      Executor callExecutor,
      MeterRegistry registry) {
    this.nodeId = nodeId;
    this.validation = validation;
    this.driver = driver;
    this.router = router;
    this.peers = peers;
    this.callExecutor = callExecutor;
    this.nodeForwards = forwardsCounter(registry, "node");
    this.partitionForwards = forwardsCounter(registry, "partition");
  }

  private static Counter forwardsCounter(MeterRegistry registry, String kind) {
    return Counter.builder("ringkv.scan.forwards")
        .description(
            "Calls a Scan forwarded to other nodes: kind=node asks one node for all the partitions"
                + " it serves, kind=partition asks for one partition")
        .tag("kind", kind)
        .register(registry);
  }

  ScanResponse scan(ScanRequest request) {
    Integer onePartition = ForwardingHeaders.scanPartition();
    boolean forwardedPage = onePartition != null;
    int limit = validation.scanLimit(request, forwardedPage);
    ScanRange range = RequestValidation.scanRange(request);
    boolean linearizable = RequestValidation.linearizable(request.getConsistency());
    int partitionCount = validation.layout().partitionCount();
    if (forwardedPage) {
      int partition = onePartition;
      if (partition < 0 || partition >= partitionCount) {
        throw KvErrors.malformed("no partition " + partition);
      }
      return scanPartition(partition, range, limit, linearizable, request);
    }
    int perPartition = limit + 1;
    ScanRequest page = request.toBuilder().setLimit(perPartition).build();
    long deadline = router.deadlineNanos();
    Executor executor = Context.current().fixedContextExecutor(callExecutor);
    Plan plan = plan(partitionCount, linearizable);
    List<CompletableFuture<List<ScanResponse>>> parts = new ArrayList<>();
    for (int partition : plan.alone()) {
      parts.add(
          CompletableFuture.supplyAsync(
              () -> List.of(scanPartition(partition, range, perPartition, linearizable, page)),
              executor));
    }
    List<CompletableFuture<NodePart>> nodeParts = new ArrayList<>();
    plan.byNode()
        .forEach((node, partitions) -> {
          for (int from = 0; from < partitions.size(); from += NODE_SCAN_PARTITIONS_MAX) {
            List<Integer> share =
                partitions.subList(
                    from, Math.min(partitions.size(), from + NODE_SCAN_PARTITIONS_MAX));
            int shareLimit = shareLimit(perPartition, share.size(), partitionCount);
            nodeParts.add(
                CompletableFuture.supplyAsync(
                    () -> askNode(node, share, range, linearizable, page, shareLimit, deadline),
                    executor));
          }
        });
    List<ScanResponse> pages = new ArrayList<>(partitionCount);
    List<NodePart> answered = new ArrayList<>();
    try {
      Served served = serveHere(plan.here(), range, perPartition, linearizable, page, deadline);
      pages.addAll(served.pages());
      pages.addAll(
          partitionByPartition(
              served.notServed().stream().map(DriverException::partition).toList(),
              range,
              linearizable,
              page));
      for (CompletableFuture<List<ScanResponse>> part : parts) {
        pages.addAll(part.join());
      }
      for (CompletableFuture<NodePart> part : nodeParts) {
        answered.add(part.join());
      }
      readOnWhereShort(answered, pages, range, limit, linearizable, page, deadline);
    } catch (CompletionException e) {
      parts.forEach(other -> other.cancel(false));
      nodeParts.forEach(other -> other.cancel(false));
      if (e.getCause() instanceof StatusRuntimeException status) {
        throw status;
      }
      throw Status.INTERNAL.withDescription(String.valueOf(e.getCause())).asRuntimeException();
    } catch (RuntimeException e) {
      parts.forEach(other -> other.cancel(false));
      nodeParts.forEach(other -> other.cancel(false));
      throw e;
    }
    for (NodePart part : answered) {
      pages.addAll(part.pages());
    }
    return merge(pages, limit);
  }

  /**
   * Pairs to ask a node for when it serves {@code partitions} of {@code partitionCount}: its
   * expected share of the page plus four standard deviations and a few (keys spread over the
   * partitions by hash), never more than a partition's page. A node whose share turns out larger is
   * asked again ({@link #readOnWhereShort}).
   */
  static int shareLimit(int perPartition, int partitions, int partitionCount) {
    double expected = (double) perPartition * partitions / Math.max(1, partitionCount);
    int limit = (int) Math.ceil(expected + 4 * Math.sqrt(expected) + 4);
    return Math.min(perPartition, Math.max(PartitionPageMerge.FIRST_CHUNK_MIN, limit));
  }

  /**
   * The pages one node answered for its share: its merged page last, after the pages of the
   * partitions that went the per-partition way. {@code cut} when the merged page stopped at the
   * reduced count asked for and the node has more: nothing past its last key is known.
   */
  private record NodePart(
      long node, List<Integer> partitions, List<ScanResponse> pages, boolean cut) {
    ScanResponse nodePage() {
      return pages.getLast();
    }

    ByteString lastKey() {
      ScanResponse page = nodePage();
      return page.getKvs(page.getKvsCount() - 1).getKey();
    }
  }

  /**
   * While fewer than {@code limit} pairs are known up to the lowest last key of a node page cut at
   * its reduced count, asks that node again for a full page from right after that key and adds what
   * it answers. Each node is asked again at most once (the second page is a full one). The second
   * read of a partition is at a later read index than the first: each pair is still read as by a
   * Get during the call.
   */
  private void readOnWhereShort(
      List<NodePart> answered,
      List<ScanResponse> pages,
      ScanRange range,
      int limit,
      boolean linearizable,
      ScanRequest page,
      long deadline) {
    while (true) {
      NodePart lowest = null;
      for (NodePart part : answered) {
        if (part.cut() && (lowest == null || compareBytes(part.lastKey(), lowest.lastKey()) < 0)) {
          lowest = part;
        }
      }
      if (lowest == null) {
        return;
      }
      ByteString cutoff = lowest.lastKey();
      int known = 0;
      for (ScanResponse other : pages) {
        known += countUpTo(other, cutoff);
      }
      for (NodePart part : answered) {
        for (ScanResponse partPage : part.pages()) {
          known += countUpTo(partPage, cutoff);
        }
      }
      if (known >= limit) {
        return;
      }
      int index = answered.indexOf(lowest);
      byte[] from = cutoff.concat(ByteString.copyFrom(new byte[] {0})).toByteArray();
      if (range.end() != null && Arrays.compareUnsigned(from, range.end()) >= 0) {
        answered.set(
            index, new NodePart(lowest.node(), lowest.partitions(), lowest.pages(), false));
        continue;
      }
      ScanRange rest = new ScanRange(from, range.end());
      ScanRequest restPage = continuation(page, from);
      NodePart second =
          askNode(
              lowest.node(),
              lowest.partitions(),
              rest,
              linearizable,
              restPage,
              restPage.getLimit(),
              deadline);
      List<ScanResponse> combined =
          new ArrayList<>(lowest.pages().subList(0, lowest.pages().size() - 1));
      combined.addAll(second.pages().subList(0, second.pages().size() - 1));
      ScanResponse first = lowest.nodePage();
      ScanResponse next = second.nodePage();
      combined.add(
          first.toBuilder()
              .addAllKvs(next.getKvsList())
              .setMore(next.getMore())
              .setNextKey(next.getNextKey())
              .build());
      answered.set(index, new NodePart(lowest.node(), lowest.partitions(), combined, false));
    }
  }

  /** Pairs of {@code page} with keys at or below {@code cutoff} (a page is in key order). */
  private static int countUpTo(ScanResponse page, ByteString cutoff) {
    int count = 0;
    for (KeyValue kv : page.getKvsList()) {
      if (compareBytes(kv.getKey(), cutoff) > 0) {
        break;
      }
      count++;
    }
    return count;
  }

  /** {@code page} (limit and all) from {@code from} on, to the same end. */
  private static ScanRequest continuation(ScanRequest page, byte[] from) {
    ScanRequest.Builder rest =
        page.toBuilder().clearPrefix().setStartKey(ByteString.copyFrom(from));
    if (!page.getPrefix().isEmpty()) {
      byte[] end = ScanRange.prefix(page.getPrefix().toByteArray()).end();
      rest.setEndKey(end == null ? ByteString.EMPTY : ByteString.copyFrom(end));
    }
    return rest.build();
  }

  /**
   * Where each partition of a scan is read: here, by one call to the node that serves it (the
   * router's belief), or alone through the router (leader unknown here, or this scan was forwarded
   * to us and so may not be forwarded again).
   */
  private record Plan(List<Integer> here, Map<Long, List<Integer>> byNode, List<Integer> alone) {}

  private Plan plan(int partitionCount, boolean linearizable) {
    boolean mayAskNodes = !ForwardingHeaders.isForwarded();
    Plan plan = new Plan(new ArrayList<>(), new TreeMap<>(), new ArrayList<>());
    for (int partition = 0; partition < partitionCount; partition++) {
      long node = router.servingNode(partition, linearizable);
      if (node == nodeId) {
        plan.here().add(partition);
      } else if (node != 0 && mayAskNodes) {
        plan.byNode().computeIfAbsent(node, n -> new ArrayList<>()).add(partition);
      } else {
        plan.alone().add(partition);
      }
    }
    Invariants.check(
        plan.here().size()
                + plan.alone().size()
                + plan.byNode().values().stream().mapToInt(List::size).sum()
            == partitionCount,
        "a scan plans each partition once");
    return plan;
  }

  /**
   * Serves one node's share of another node's scan ({@code NodeScan}): each listed partition this
   * node may serve, behind its own read barrier, merged into one page; never forwards.
   */
  NodeScanResponse serveShare(NodeScanRequest request) {
    ScanRequest page = request.getPage();
    int limit = validation.scanLimit(page, true);
    ScanRange range = RequestValidation.scanRange(page);
    boolean linearizable = RequestValidation.linearizable(page.getConsistency());
    int partitionCount = validation.layout().partitionCount();
    if (request.getPartitionsCount() > NODE_SCAN_PARTITIONS_MAX) {
      throw KvErrors.malformed(
          "a NodeScan lists at most " + NODE_SCAN_PARTITIONS_MAX + " partitions");
    }
    BitSet listed = new BitSet();
    for (int partition : request.getPartitionsList()) {
      if (partition < 0 || partition >= partitionCount || listed.get(partition)) {
        throw KvErrors.malformed("no partition " + partition + ", or listed twice");
      }
      listed.set(partition);
    }
    Served served =
        serveHere(
            request.getPartitionsList(), range, limit, linearizable, page, router.deadlineNanos());
    Invariants.check(
        served.pages().size() <= 1 && served.notServed().size() <= request.getPartitionsCount(),
        "a NodeScan answers with one page at most");
    NodeScanResponse.Builder response =
        NodeScanResponse.newBuilder().setPage(merge(served.pages(), limit));
    for (DriverException notServed : served.notServed()) {
      response.addNotServed(
          NotServed.newBuilder()
              .setPartition(notServed.partition())
              .setLeaderHint(notServed.leaderHint()));
    }
    return response.build();
  }

  /**
   * The merged page of the partitions this node served (none when it served none), and the refusals
   * of those it may not serve.
   */
  private record Served(List<ScanResponse> pages, List<DriverException> notServed) {}

  /**
   * Reads {@code partitions} from this node's replicas into one merged page: every read barrier is
   * asked for first (with a lease they complete at once), then each partition's view is opened once
   * its barrier passed, and the views are merged as they are read ({@link PartitionPageMerge}). A
   * partition this node does not lead (a linearizable read) or no longer holds is refused, not
   * waited for.
   */
  private Served serveHere(
      List<Integer> partitions,
      ScanRange range,
      int limit,
      boolean linearizable,
      ScanRequest page,
      long deadline) {
    List<CompletableFuture<Long>> barriers = new ArrayList<>(partitions.size());
    for (int partition : partitions) {
      barriers.add(barrier(partition, linearizable));
    }
    List<PartitionReadView> views = new ArrayList<>(partitions.size());
    List<DriverException> notServed = new ArrayList<>();
    try {
      for (int i = 0; i < partitions.size(); i++) {
        int partition = partitions.get(i);
        try {
          router.await(barriers.get(i), deadline, partition);
          views.add(driver.store(partition).readView());
        } catch (DriverException e) {
          if (!router.servesElsewhere(e)) {
            throw router.driverError(e);
          }
          notServed.add(e);
        }
      }
      Invariants.check(
          views.size() + notServed.size() == partitions.size(),
          "a scan reads or refuses each local partition once");
      if (views.isEmpty()) {
        return new Served(List.of(), notServed);
      }
      ScanResponse merged =
          PartitionPageMerge.merge(
              views,
              range,
              limit,
              pageBytesMax(),
              PAIR_OVERHEAD_BYTES,
              page.getKeysOnly(),
              validation.layout().partitionCount());
      return new Served(
          List.of(merged.toBuilder().setHeader(router.mergedHeader()).build()), notServed);
    } catch (StatusRuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw Status.INTERNAL.withDescription(e.toString()).asRuntimeException();
    } finally {
      barriers.forEach(barrier -> barrier.cancel(false));
      views.forEach(PartitionReadView::close);
    }
  }

  /** The read barrier of one local partition: ReadIndex or lease on its leader, or none. */
  private CompletableFuture<Long> barrier(int partition, boolean linearizable) {
    GroupStatus status = driver.status(partition);
    if (status == null) {
      return CompletableFuture.failedFuture(
          new DriverException(DriverException.Kind.NOT_HOSTED, partition, 0, "not hosted here"));
    }
    if (!linearizable) {
      return CompletableFuture.completedFuture(status.term());
    }
    if (status.role() != Role.LEADER) {
      return CompletableFuture.failedFuture(
          new DriverException(
              DriverException.Kind.NOT_LEADER, partition, status.leaderId(), "not the leader"));
    }
    return driver.readIndex(partition);
  }

  /**
   * Asks {@code node} for at most {@code shareLimit} pairs of its share. Partitions it did not
   * serve, or all of them when it could not be asked (down, or a node without NodeScan), go the
   * per-partition way with full pages.
   */
  private NodePart askNode(
      long node,
      List<Integer> partitions,
      ScanRange range,
      boolean linearizable,
      ScanRequest page,
      int shareLimit,
      long deadline) {
    NodeScanResponse answer;
    ScanRequest sharePage = page.toBuilder().setLimit(shareLimit).build();
    try {
      nodeForwards.increment();
      answer =
          peers
              .nodeScan(node)
              .withDeadlineAfter(router.remainingNanos(deadline), TimeUnit.NANOSECONDS)
              .scanPartitions(
                  NodeScanRequest.newBuilder()
                      .setPage(sharePage)
                      .addAllPartitions(partitions)
                      .build());
    } catch (StatusRuntimeException e) {
      Status.Code code = e.getStatus().getCode();
      if (code != Status.Code.UNAVAILABLE && code != Status.Code.UNIMPLEMENTED) {
        throw e;
      }
      List<ScanResponse> pages =
          new ArrayList<>(partitionByPartition(partitions, range, linearizable, page));
      pages.add(ScanResponse.getDefaultInstance()); // an empty node page: nothing cut
      return new NodePart(node, partitions, pages, false);
    }
    ScanResponse nodePage = answer.getPage();
    if ((nodePage.getMore() && nodePage.getKvsCount() == 0)
        || nodePage.getKvsCount() > shareLimit) {
      throw Status.INTERNAL
          .withDescription("node " + node + " answered a malformed scan page")
          .asRuntimeException();
    }
    List<Integer> retry = new ArrayList<>();
    for (NotServed notServed : answer.getNotServedList()) {
      if (!partitions.contains(notServed.getPartition())) {
        throw Status.INTERNAL
            .withDescription("node " + node + " refused partition it was not asked for")
            .asRuntimeException();
      }
      router.leaderHint(notServed.getPartition(), notServed.getLeaderHint());
      retry.add(notServed.getPartition());
    }
    List<ScanResponse> pages =
        new ArrayList<>(partitionByPartition(retry, range, linearizable, page));
    pages.add(nodePage);
    boolean cut =
        shareLimit < page.getLimit() && nodePage.getMore() && nodePage.getKvsCount() == shareLimit;
    return new NodePart(node, partitions, pages, cut);
  }

  private List<ScanResponse> partitionByPartition(
      List<Integer> partitions, ScanRange range, boolean linearizable, ScanRequest page) {
    List<ScanResponse> pages = new ArrayList<>(partitions.size());
    for (int partition : partitions) {
      pages.add(scanPartition(partition, range, page.getLimit(), linearizable, page));
    }
    return pages;
  }

  /**
   * Merges per-partition pages into one page of at most {@code limit} pairs and {@link
   * #pageBytesMax} bytes. A page cut by bytes ({@code more} set) knows nothing past its last key,
   * so the merged page ends at the smallest such key.
   */
  private ScanResponse merge(List<ScanResponse> pages, int limit) {
    List<KeyValue> merged = new ArrayList<>();
    ByteString cutoff = null;
    for (ScanResponse page : pages) {
      merged.addAll(page.getKvsList());
      if (page.getMore()) {
        Invariants.check(page.getKvsCount() > 0, "a scan page cut by bytes holds no pair");
        ByteString last = page.getKvs(page.getKvsCount() - 1).getKey();
        cutoff = cutoff == null || compareBytes(last, cutoff) < 0 ? last : cutoff;
      }
    }
    merged.sort((a, b) -> compareBytes(a.getKey(), b.getKey()));
    ScanResponse.Builder response = ScanResponse.newBuilder();
    long bytes = 0;
    long bytesMax = pageBytesMax();
    for (KeyValue kv : merged) {
      bytes += CodedOutputStream.computeMessageSize(ScanResponse.KVS_FIELD_NUMBER, kv);
      if (response.getKvsCount() == limit
          || bytes > bytesMax
          || (cutoff != null && compareBytes(kv.getKey(), cutoff) > 0)) {
        break;
      }
      response.addKvs(kv);
    }
    boolean more = response.getKvsCount() < merged.size() || cutoff != null;
    response.setMore(more);
    if (more) {
      Invariants.check(response.getKvsCount() > 0, "a scan page with more to come is empty");
      ByteString last = response.getKvs(response.getKvsCount() - 1).getKey();
      response.setNextKey(last.concat(ByteString.copyFrom(new byte[] {0})));
    }
    return response.setHeader(router.mergedHeader()).build();
  }

  /**
   * Bytes of pairs one page may carry: the response limit less room for the header and next key.
   * The relation of the limits guarantees the largest pair fits, so a page is never empty.
   */
  private long pageBytesMax() {
    return validation.limits().responseSizeBytesMax()
        - validation.limits().keySizeBytesMax()
        - PAGE_ROOM_BYTES;
  }

  private ScanResponse scanPartition(
      int partition, ScanRange range, int limit, boolean linearizable, ScanRequest page) {
    return router.route(
        partition,
        linearizable,
        deadline ->
            readPage(
                partition,
                router.readBarrier(partition, linearizable, deadline),
                range,
                limit,
                page),
        stub -> {
          partitionForwards.increment();
          return stub.scan(page);
        },
        true,
        partition);
  }

  /** One partition's page from the local store, once its read barrier passed. */
  private ScanResponse readPage(
      int partition, long term, ScanRange range, int limit, ScanRequest page) {
    ScanResponse.Builder response =
        ScanResponse.newBuilder().setHeader(router.header(partition, term));
    long bytes = 0;
    long storeBytes = 0; // as the store counts: it stops past its budget, values counted
    for (io.ringkv.storage.KeyValue pair :
        driver.store(partition).scan(range, limit, pageBytesMax(), PAIR_OVERHEAD_BYTES)) {
      storeBytes += pair.key().length + pair.value().value().length + PAIR_OVERHEAD_BYTES;
      KeyValue kv = PartitionPageMerge.message(pair, page.getKeysOnly());
      bytes += CodedOutputStream.computeMessageSize(ScanResponse.KVS_FIELD_NUMBER, kv);
      if (bytes > pageBytesMax()) {
        return response.setMore(true).build(); // cut by bytes: the merge stops here
      }
      response.addKvs(kv);
    }
    // The store stopped on bytes (a keys-only page is smaller than it counted): pairs may follow.
    return response.setMore(storeBytes > pageBytesMax() && response.getKvsCount() > 0).build();
  }

  private static int compareBytes(ByteString a, ByteString b) {
    return ByteString.unsignedLexicographicalComparator().compare(a, b);
  }
}
