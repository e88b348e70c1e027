package io.ringkv.client;

import io.ringkv.proto.v1.ClusterGrpc;
import io.ringkv.proto.v1.ErrorDetail;
import io.ringkv.proto.v1.MembersRequest;
import io.ringkv.proto.v1.MembersResponse;
import io.ringkv.proto.v1.PartitionInfo;
import io.ringkv.proto.v1.PartitionsRequest;
import io.ringkv.proto.v1.PartitionsResponse;
import io.ringkv.proto.v1.ResponseHeader;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The client's cache of the partition map, and the answer to "where should this key go".
 *
 * <p>Refreshes are single-flight: however many calls learn at once that the map is stale (a
 * NOT_LEADER with a newer epoch, a dead leader), one refresh runs and all wait on it. A refresh
 * asks the known members, then the seed endpoints, one at a time, for Partitions and Members.
 * Without a map (none fetched yet, or every refresh failed) requests go to the seed endpoints,
 * which forward to the right leader themselves.
 */
final class Router {
  private static final System.Logger log = System.getLogger(Router.class.getName());

  private final List<String> seeds;
  private final Transport transport;
  private final long refreshTimeoutNanos;
  private final AtomicReference<PartitionMap> map = new AtomicReference<>();
  private final AtomicReference<CompletableFuture<PartitionMap>> inFlight = new AtomicReference<>();
  private final AtomicLong refreshCount = new AtomicLong();

  Router(List<String> seeds, Transport transport, long refreshTimeoutNanos) {
    this.seeds = List.copyOf(seeds);
    this.transport = transport;
    this.refreshTimeoutNanos = refreshTimeoutNanos;
  }

  /** The current map, or null if none was fetched yet. */
  PartitionMap current() {
    return map.get();
  }

  long refreshCount() {
    return refreshCount.get();
  }

  /** Installs a map (also used by tests that build one). */
  void install(PartitionMap fresh) {
    map.accumulateAndGet(
        fresh,
        (old, candidate) -> old == null || candidate.epoch() >= old.epoch() ? candidate : old);
  }

  /** A map: the cached one, or the result of a refresh when none is cached (null if that fails). */
  CompletableFuture<PartitionMap> ensureMap() {
    PartitionMap current = map.get();
    return current != null ? CompletableFuture.completedFuture(current) : refresh();
  }

  /** Starts a refresh unless one is running; completes with the new map, or null on failure. */
  CompletableFuture<PartitionMap> refresh() {
    return refresh(0);
  }

  /**
   * As {@link #refresh()}, skipping sources whose map is older than {@code wantedEpoch} (a node
   * that told us of a newer epoch has it; another may not have learnt it yet).
   */
  CompletableFuture<PartitionMap> refresh(long wantedEpoch) {
    CompletableFuture<PartitionMap> mine = new CompletableFuture<>();
    CompletableFuture<PartitionMap> running = inFlight.compareAndExchange(null, mine);
    if (running != null) {
      return running;
    }
    refreshCount.incrementAndGet();
    List<String> sources = new ArrayList<>();
    PartitionMap current = map.get();
    if (current != null) {
      sources.addAll(current.memberAddresses());
    }
    sources.addAll(seeds);
    fetchFrom(new ArrayList<>(new LinkedHashSet<>(sources)), 0, wantedEpoch)
        .whenComplete((fresh, error) -> {
          if (fresh != null) {
            install(fresh);
          }
          inFlight.set(null);
          mine.complete(fresh != null ? map.get() : null);
        });
    return mine;
  }

  private CompletableFuture<PartitionMap> fetchFrom(
      List<String> sources, int index, long wantedEpoch) {
    if (index >= sources.size()) {
      return CompletableFuture.completedFuture(null);
    }
    String address = sources.get(index);
    return transport
        .unary(
            address,
            ClusterGrpc.getPartitionsMethod(),
            PartitionsRequest.getDefaultInstance(),
            refreshTimeoutNanos)
        .thenCombine(
            transport.unary(
                address,
                ClusterGrpc.getMembersMethod(),
                MembersRequest.getDefaultInstance(),
                refreshTimeoutNanos),
            (PartitionsResponse partitions, MembersResponse members) ->
                PartitionMap.of(partitions, members))
        .handle((fresh, error) -> {
          if (error != null) {
            log.log(
                System.Logger.Level.DEBUG, "partition map from {0} failed: {1}", address, error);
            return fetchFrom(sources, index + 1, wantedEpoch);
          }
          if (fresh.epoch() < wantedEpoch) {
            return fetchFrom(sources, index + 1, wantedEpoch);
          }
          return CompletableFuture.completedFuture(fresh);
        })
        .thenCompose(future -> future);
  }

  /**
   * Where a request for {@code key} should go, best first: leader, replicas, then every other
   * member and seed (any node forwards), then members gossip holds dead. A null key means "any
   * node".
   */
  List<String> candidates(byte[] key) {
    LinkedHashSet<String> result = new LinkedHashSet<>();
    PartitionMap current = map.get();
    List<String> gone = current == null ? List.of() : current.goneAddresses();
    if (current != null) {
      if (key != null) {
        result.addAll(current.candidatesFor(key));
      }
      result.addAll(current.memberAddresses());
    }
    for (String seed : seeds) {
      if (!gone.contains(seed)) {
        result.add(seed);
      }
    }
    // Members gossip holds dead come last: skipped while any other node is left to try, and still
    // tried after them, since one node's view may be the wrong one.
    result.addAll(gone);
    return new ArrayList<>(result);
  }

  /**
   * Learns from the header of a response to a keyed request: a newer map epoch means the map is
   * stale (members joined or left, replicas moved); when a partition leader served it (a
   * linearizable read or a write), a serving node other than the cached leader means leadership
   * moved (nodes forward to the leader, so no NOT_LEADER would tell us). Only a replica of the
   * partition is believed, so a node that fills in its own id when it merely forwarded cannot
   * mislead the cache beyond its replicas.
   */
  void onServed(byte[] key, ResponseHeader header, boolean servedByLeader) {
    PartitionMap current = map.get();
    if (current == null || header == null) {
      return;
    }
    if (header.getMapEpoch() > current.epoch()) {
      refresh(header.getMapEpoch());
      return;
    }
    if (!servedByLeader) {
      return;
    }
    int partition = current.partitionOf(key);
    PartitionInfo info = current.partition(partition);
    long servedBy = header.getNodeId();
    if (servedBy != 0
        && servedBy != info.getLeaderNodeId()
        && info.getReplicasList().contains(servedBy)) {
      map.compareAndSet(current, current.withLeader(partition, servedBy));
    }
  }

  /**
   * Learns of a map epoch from any other answer (cluster status, a membership change): a newer one
   * than the cached map's refreshes it, so joined nodes become reachable and removed ones are
   * dropped.
   */
  void onEpoch(long mapEpoch) {
    PartitionMap current = map.get();
    if (current != null && mapEpoch > current.epoch()) {
      refresh(mapEpoch);
    }
  }

  /**
   * Learns from a NOT_LEADER answer: a newer epoch or no hint means the map is stale (refresh); a
   * hint within the same epoch just moves that partition's leader.
   */
  void onNotLeader(ErrorDetail detail) {
    PartitionMap current = map.get();
    if (current == null || detail.getMapEpoch() > current.epoch() || detail.getLeaderHint() == 0) {
      refresh(detail.getMapEpoch());
      return;
    }
    map.compareAndSet(current, current.withLeader(detail.getPartition(), detail.getLeaderHint()));
  }
}
