package io.ringkv.server.membership;

import io.ringkv.proto.internal.ClusterMap;
import java.util.concurrent.CompletableFuture;

/** TEMPORARY stand-in until helper planner's MapStore merges. */
public interface MapStore {
  record Versioned(ClusterMap map, long revision) {}

  CompletableFuture<Versioned> read();

  CompletableFuture<Boolean> compareAndSet(long expectedRevision, ClusterMap next);
}
