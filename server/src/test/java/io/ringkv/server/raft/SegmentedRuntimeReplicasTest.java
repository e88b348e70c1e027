package io.ringkv.server.raft;

import io.ringkv.storage.RaftLogEngine;

/**
 * Runs every {@link RuntimeReplicasTest} with the segmented Raft log under each node: a replica
 * created at run time, caught up by snapshot (log reset), its group compacted, the old replica
 * destroyed and the nodes restarted, with entries and votes in the segmented log.
 */
class SegmentedRuntimeReplicasTest extends RuntimeReplicasTest {
  @Override
  RaftLogEngine raftLogEngine() {
    return RaftLogEngine.SEGMENTED;
  }
}
