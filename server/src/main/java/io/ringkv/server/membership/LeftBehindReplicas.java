package io.ringkv.server.membership;

import io.ringkv.proto.internal.ClusterMap;
import io.ringkv.proto.internal.ReplicaMove;
import io.ringkv.server.raft.MultiRaftDriver;
import java.util.concurrent.CompletionException;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Destroys local replicas the cluster has moved away from, when this node sees a newer map: the
 * map's voters of the group leave this node out and no move in progress involves it here. That
 * finishes a move whose CLEANUP skipped this node (it was down or unreachable), and removes an
 * empty replica whose move was abandoned. The driver still refuses while the replica's own
 * configuration lists this node, so a map that is ahead of (or behind) the group's Raft state never
 * destroys a replica the group counts on.
 */
public final class LeftBehindReplicas implements Consumer<ClusterMap> {
  private static final Logger log = LoggerFactory.getLogger(LeftBehindReplicas.class);

  private final long nodeId;
  private final MultiRaftDriver driver;

  public LeftBehindReplicas(long nodeId, MultiRaftDriver driver) {
    this.nodeId = nodeId;
    this.driver = driver;
  }

  /** Pure: whether {@code map} leaves this node's replica of {@code group} behind. */
  static boolean leftBehind(ClusterMap map, long nodeId, int group) {
    if (group >= map.getGroupsCount() || map.getGroups(group).getVotersList().contains(nodeId)) {
      return false;
    }
    for (ReplicaMove move : map.getMovesList()) {
      if (move.getGroup() == group
          && (move.getToNode() == nodeId || move.getFromNode() == nodeId)) {
        return false;
      }
    }
    return true;
  }

  @Override
  public void accept(ClusterMap map) {
    for (int group : driver.partitions()) {
      if (!leftBehind(map, nodeId, group)) {
        continue;
      }
      driver
          .destroyReplica(group)
          .whenComplete((destroyed, failure) -> {
            Throwable cause =
                failure instanceof CompletionException && failure.getCause() != null
                    ? failure.getCause()
                    : failure;
            if (cause instanceof IllegalStateException) {
              log.info(
                  "group {}: map epoch {} no longer places it here, but its configuration"
                      + " still does; kept",
                  group,
                  map.getEpoch());
            } else if (cause != null) {
              log.warn("group {}: destroying the left-behind replica failed", group, cause);
            } else if (destroyed) {
              log.info(
                  "group {}: replica destroyed, map epoch {} places it elsewhere",
                  group,
                  map.getEpoch());
            }
          });
    }
  }
}
