package io.ringkv.jepsen.harness.nemesis;

import io.ringkv.proto.internal.ClusterMap;
import io.ringkv.proto.v1.AddNodeResponse;
import io.ringkv.proto.v1.RemoveNodeResponse;
import java.util.List;

/**
 * What the membership nemesis needs of a cluster: its node processes (members, spares, retiring a
 * removed node) and the Cluster service's membership commands. {@link LocalMembershipControl} is
 * the real one; tests give a model.
 */
public interface MembershipControl {
  /** The nodes started and not retired, in id order. */
  List<Integer> memberIds();

  /** Spare node ids never started, in id order. */
  List<Integer> unusedSpareIds();

  /** The replication factor: the nemesis keeps at least this many nodes ACTIVE. */
  int replicationFactor();

  /** Starts a spare in join mode and returns once it answers its health check. */
  void startSpare(int nodeId) throws Exception;

  /** Kills a node the map has removed, for good. */
  void retire(int nodeId) throws Exception;

  /** Cluster.AddNode of the running node {@code nodeId}, by its client address. */
  AddNodeResponse addNode(int nodeId) throws Exception;

  /** Cluster.RemoveNode of {@code nodeId}, not dead: a decommission. */
  RemoveNodeResponse decommission(int nodeId) throws Exception;

  /** The newest cluster map a live member answers with, or null when none answers. */
  ClusterMap clusterMap();

  /**
   * The moves the coordinator still plans for the map of exactly {@code epoch} and has not started
   * (a map records only started moves), or -1 when no live member answers for that map (a newer one
   * exists: read it again).
   */
  int unstartedMoves(long epoch);
}
