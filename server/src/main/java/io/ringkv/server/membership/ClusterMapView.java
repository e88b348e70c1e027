package io.ringkv.server.membership;

import io.ringkv.proto.internal.ClusterMap;
import io.ringkv.proto.internal.ClusterMember;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * The newest cluster map this node knows, shared by everything that routes by it (KV, Watch,
 * Cluster, peer connections). Maps only move forward: one with an epoch not above the current one
 * is ignored. Listeners hear each adopted map on the adopting thread, in epoch order.
 */
public final class ClusterMapView {
  private static final org.slf4j.Logger log =
      org.slf4j.LoggerFactory.getLogger(ClusterMapView.class);

  private final AtomicReference<ClusterMap> current;
  private final List<Consumer<ClusterMap>> listeners = new CopyOnWriteArrayList<>();

  public ClusterMapView(ClusterMap initial) {
    this.current = new AtomicReference<>(initial);
  }

  /** The current map; never null. */
  public ClusterMap current() {
    return current.get();
  }

  public long epoch() {
    return current.get().getEpoch();
  }

  public int partitionCount() {
    return current.get().getPartitionCount();
  }

  /** The recorded voters of {@code group} (a data partition or the meta group). */
  public List<Long> votersOf(int group) {
    return current.get().getGroups(group).getVotersList();
  }

  public Optional<ClusterMember> member(long nodeId) {
    for (ClusterMember member : current.get().getMembersList()) {
      if (member.getNodeId() == nodeId) {
        return Optional.of(member);
      }
    }
    return Optional.empty();
  }

  /**
   * Adopts {@code map} if its epoch is above the current one; returns whether it did. Safe from any
   * thread.
   */
  public synchronized boolean adopt(ClusterMap map) {
    if (map.getEpoch() <= current.get().getEpoch()) {
      return false;
    }
    current.set(map);
    for (Consumer<ClusterMap> listener : listeners) {
      try {
        listener.accept(map);
      } catch (RuntimeException e) {
        // One listener's failure (a member address it cannot use) must not stop the others, nor
        // fail whoever adopted the map.
        log.error("a cluster map listener failed on epoch {}", map.getEpoch(), e);
      }
    }
    return true;
  }

  /** Calls {@code listener} with every map adopted from now on. */
  public void addListener(Consumer<ClusterMap> listener) {
    listeners.add(listener);
  }
}
