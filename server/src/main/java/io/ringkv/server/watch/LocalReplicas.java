package io.ringkv.server.watch;

import io.ringkv.storage.ChangefeedLog;
import io.ringkv.storage.PartitionReadView;
import java.util.concurrent.CompletableFuture;

/** What the changefeed needs of this node's replicas (the driver and the store behind it). */
interface LocalReplicas {
  boolean hosts(int partition);

  /** Applied index of the local replica: its data and change records up to here are stored. */
  long appliedIndex(int partition);

  ChangefeedLog changefeed(int partition);

  /** A consistent view of the partition's data and applied state; the caller closes it. */
  PartitionReadView readView(int partition);

  /**
   * Completes once the local replica (leader or follower) applied at least the leader's commit
   * index as of this call (ReadIndex).
   */
  CompletableFuture<?> awaitLeaderCommit(int partition);
}
