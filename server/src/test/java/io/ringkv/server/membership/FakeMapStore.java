package io.ringkv.server.membership;

import io.ringkv.proto.internal.ClusterMap;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * The meta group's map key in memory: a revision checked by compare-and-set, the history of written
 * maps, a hook after each write (to crash the coordinator) and a switch that makes writes lose
 * their compare-and-set (as if another writer had come first).
 */
final class FakeMapStore implements Rebalancer.MapStore {
  private ClusterMap map;
  private long revision = 1;
  final List<ClusterMap> written = new ArrayList<>();
  Consumer<ClusterMap> afterWrite = map -> {};
  Predicate<ClusterMap> loseWrite = map -> false;

  FakeMapStore(ClusterMap initial) {
    this.map = initial;
  }

  synchronized ClusterMap map() {
    return map;
  }

  @Override
  public synchronized CompletableFuture<Versioned> read() {
    return CompletableFuture.completedFuture(new Versioned(map, revision));
  }

  @Override
  public CompletableFuture<Boolean> compareAndSet(long expectedRevision, ClusterMap next) {
    synchronized (this) {
      if (expectedRevision != revision || loseWrite.test(next)) {
        return CompletableFuture.completedFuture(false);
      }
      if (next.getEpoch() <= map.getEpoch()) {
        throw new AssertionError("epoch " + next.getEpoch() + " after " + map.getEpoch());
      }
      map = next;
      revision++;
      written.add(next);
    }
    afterWrite.accept(next);
    return CompletableFuture.completedFuture(true);
  }
}
