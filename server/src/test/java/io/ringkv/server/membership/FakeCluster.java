package io.ringkv.server.membership;

import io.grpc.Status;
import io.ringkv.proto.internal.ChangeReplicasRequest;
import io.ringkv.proto.internal.ChangeReplicasResponse;
import io.ringkv.proto.internal.ClusterMap;
import io.ringkv.proto.internal.CreateReplicaResponse;
import io.ringkv.proto.internal.DestroyReplicaResponse;
import io.ringkv.proto.internal.GroupConf;
import io.ringkv.proto.internal.GroupProgressResponse;
import io.ringkv.proto.internal.MemberProgress;
import io.ringkv.proto.v1.TransferLeaderResponse;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;

/**
 * An in-memory cluster for the rebalancer's tests: per group a Raft configuration (voters,
 * learners), a leader, a commit index that grows each tick and members' match indexes that catch up
 * one tick later; per node the replicas it hosts and whether it answers. Its operations behave as
 * ReplicaAdmin promises (idempotent, refusals as documented) and record what a real cluster must
 * never see: a learner added without a replica, the leader removed while it leads, a change without
 * a quorum in both the old and the new voters.
 */
final class FakeCluster implements Rebalancer.ReplicaOps {
  static final long COMMIT_START = 10;

  private static final class Group {
    final List<Long> voters = new ArrayList<>();
    final List<Long> learners = new ArrayList<>();
    final Map<Long, Long> match = new HashMap<>();
    long leader;
    long commit = COMMIT_START;
  }

  private final String clusterId;
  private final Map<Integer, Group> groups = new TreeMap<>();
  private final Map<Long, Set<Integer>> hosted = new TreeMap<>();
  private final Set<Long> down = new HashSet<>();
  private final Map<String, Rebalancer.NodeIdentity> running = new HashMap<>();
  final List<String> violations = new ArrayList<>();
  final Map<String, Integer> calls = new TreeMap<>();
  private Random flaky;

  /** Every TransferLeader fails (a node that cannot hand over leadership). */
  boolean transferRefused;

  private double flakyFailureRate;

  FakeCluster(ClusterMap map) {
    this.clusterId = map.getClusterId();
    for (int group = 0; group < map.getGroupsCount(); group++) {
      Group state = new Group();
      state.voters.addAll(map.getGroups(group).getVotersList());
      state.leader = state.voters.get(0);
      groups.put(group, state);
      for (long voter : state.voters) {
        hosted.computeIfAbsent(voter, id -> new HashSet<>()).add(group);
        state.match.put(voter, state.commit);
      }
    }
    for (var member : map.getMembersList()) {
      running(member.getNodeId());
    }
  }

  /** Starts node {@code id} (empty, as in join mode) at TestMaps' addresses. */
  void running(long id) {
    var member = TestMaps.member(id, io.ringkv.proto.internal.ClusterMember.State.ACTIVE);
    running(id, member.getPeerAddress());
  }

  /** As {@link #running(long)}, the node saying {@code peerAddress} of itself ("": nothing). */
  void running(long id, String peerAddress) {
    var member = TestMaps.member(id, io.ringkv.proto.internal.ClusterMember.State.ACTIVE);
    running.put(
        member.getClientAddress(),
        new Rebalancer.NodeIdentity(id, clusterId, member.getClientAddress(), peerAddress));
    hosted.computeIfAbsent(id, key -> new HashSet<>());
  }

  void stop(long id) {
    down.add(id);
  }

  /** Node {@code id} answers again, with the replicas it had. */
  void start(long id) {
    down.remove(id);
  }

  /** Every operation fails UNAVAILABLE with probability {@code rate} (seeded). */
  void flaky(Random random, double rate) {
    this.flaky = random;
    this.flakyFailureRate = rate;
  }

  /** Writes go on: commit indexes grow; live members catch up to the previous commit index. */
  void tick() {
    for (Group group : groups.values()) {
      if (!down.contains(group.leader) || electLeader(group)) {
        for (long node : members(group)) {
          if (!down.contains(node) && hosts(node, groupId(group))) {
            group.match.put(node, group.commit);
          }
        }
        group.commit++;
      }
    }
  }

  Set<Integer> hostedBy(long node) {
    return Set.copyOf(hosted.getOrDefault(node, Set.of()));
  }

  List<Long> voters(int group) {
    return List.copyOf(groups.get(group).voters);
  }

  List<Long> learners(int group) {
    return List.copyOf(groups.get(group).learners);
  }

  long leader(int group) {
    return groups.get(group).leader;
  }

  @Override
  public CompletableFuture<Rebalancer.NodeIdentity> describeNode(String clientAddress) {
    Rebalancer.NodeIdentity identity = running.get(clientAddress);
    if (identity == null || down.contains(identity.nodeId())) {
      return unavailable("nothing answers at " + clientAddress);
    }
    return CompletableFuture.completedFuture(identity);
  }

  @Override
  public CompletableFuture<CreateReplicaResponse> createReplica(
      long node, int group, ClusterMap map) {
    if (fails("createReplica", node)) {
      return unavailable("node " + node + " is down");
    }
    boolean created = hosted.computeIfAbsent(node, id -> new HashSet<>()).add(group);
    return CompletableFuture.completedFuture(
        CreateReplicaResponse.newBuilder().setCreated(created).build());
  }

  @Override
  public CompletableFuture<DestroyReplicaResponse> destroyReplica(
      long node, int group, long epoch) {
    if (fails("destroyReplica", node)) {
      return unavailable("node " + node + " is down");
    }
    if (members(groups.get(group)).contains(node)) {
      return CompletableFuture.failedFuture(
          Status.FAILED_PRECONDITION
              .withDescription("group " + group + " still lists node " + node)
              .asRuntimeException());
    }
    boolean destroyed = hosted.getOrDefault(node, new HashSet<>()).remove(group);
    return CompletableFuture.completedFuture(
        DestroyReplicaResponse.newBuilder().setDestroyed(destroyed).build());
  }

  @Override
  public CompletableFuture<ChangeReplicasResponse> changeReplicas(
      int groupId, ChangeReplicasRequest request) {
    Group group = groups.get(groupId);
    if (fails("changeReplicas", group.leader) || !request.getClusterId().equals(clusterId)) {
      return unavailable("no leader for group " + groupId);
    }
    List<Long> voters = new ArrayList<>(group.voters);
    List<Long> learners = new ArrayList<>(group.learners);
    long add = request.getAddNode();
    long remove = request.getRemoveNode();
    switch (request.getOperation()) {
      case ADD_LEARNER -> {
        if (!voters.contains(add) && !learners.contains(add)) {
          if (!hosts(add, groupId)) {
            violations.add("group " + groupId + ": learner " + add + " added with no replica");
          }
          learners.add(add);
          group.match.put(add, 0L);
        }
      }
      case REPLACE_VOTER, REMOVE_MEMBER -> {
        if (add != 0 && !voters.contains(add) && !learners.contains(add)) {
          return CompletableFuture.failedFuture(
              Status.FAILED_PRECONDITION
                  .withDescription(add + " is not a learner of group " + groupId)
                  .asRuntimeException());
        }
        learners.remove(add);
        learners.remove(remove);
        if (add != 0 && !voters.contains(add)) {
          voters.add(add);
        }
        voters.remove(remove);
      }
      default -> throw new AssertionError("operation " + request.getOperation());
    }
    if (!voters.equals(group.voters)) {
      if (!hasQuorum(group.voters) || !hasQuorum(voters)) {
        return unavailable("group " + groupId + " has no quorum for " + voters);
      }
      if (!voters.contains(group.leader)) {
        violations.add("group " + groupId + ": leader " + group.leader + " removed while leading");
      }
    }
    group.voters.clear();
    group.voters.addAll(voters);
    group.learners.clear();
    group.learners.addAll(learners);
    if (!group.voters.contains(group.leader)) {
      electLeader(group);
    }
    return CompletableFuture.completedFuture(
        ChangeReplicasResponse.newBuilder()
            .setConf(conf(group))
            .setLeaderNodeId(group.leader)
            .build());
  }

  @Override
  public CompletableFuture<GroupProgressResponse> groupProgress(int groupId) {
    Group group = groups.get(groupId);
    if (fails("groupProgress", group.leader)) {
      return unavailable("no leader for group " + groupId);
    }
    GroupProgressResponse.Builder response =
        GroupProgressResponse.newBuilder()
            .setHosted(true)
            .setConf(conf(group))
            .setLeaderNodeId(group.leader)
            .setCommitIndex(group.commit)
            .setApproximateBytes(1000L * (groupId + 1));
    for (long node : members(group)) {
      response.addProgress(
          MemberProgress.newBuilder()
              .setNodeId(node)
              .setMatchIndex(group.match.getOrDefault(node, 0L)));
    }
    return CompletableFuture.completedFuture(response.build());
  }

  @Override
  public CompletableFuture<TransferLeaderResponse> transferLeader(int groupId, long toNode) {
    Group group = groups.get(groupId);
    if (fails("transferLeader", group.leader) || transferRefused) {
      return unavailable("no leader for group " + groupId);
    }
    if (group.voters.contains(toNode) && !down.contains(toNode)) {
      group.leader = toNode;
    }
    return CompletableFuture.completedFuture(
        TransferLeaderResponse.newBuilder().setLeaderNodeId(group.leader).build());
  }

  private boolean fails(String operation, long node) {
    calls.merge(operation, 1, Integer::sum);
    if (flaky != null && flaky.nextDouble() < flakyFailureRate) {
      return true;
    }
    return down.contains(node);
  }

  private boolean electLeader(Group group) {
    if (!hasQuorum(group.voters)) {
      return false;
    }
    for (long voter : group.voters) {
      if (!down.contains(voter)) {
        group.leader = voter;
        return true;
      }
    }
    return false;
  }

  private boolean hasQuorum(List<Long> voters) {
    long live = voters.stream().filter(voter -> !down.contains(voter)).count();
    return live > voters.size() / 2;
  }

  private boolean hosts(long node, int group) {
    return hosted.getOrDefault(node, Set.of()).contains(group);
  }

  private int groupId(Group group) {
    for (Map.Entry<Integer, Group> entry : groups.entrySet()) {
      if (entry.getValue() == group) {
        return entry.getKey();
      }
    }
    throw new AssertionError("unknown group");
  }

  private static List<Long> members(Group group) {
    List<Long> members = new ArrayList<>(group.voters);
    members.addAll(group.learners);
    return members;
  }

  private static GroupConf conf(Group group) {
    return GroupConf.newBuilder().addAllVoters(group.voters).addAllLearners(group.learners).build();
  }

  private static <T> CompletableFuture<T> unavailable(String message) {
    return CompletableFuture.failedFuture(
        Status.UNAVAILABLE.withDescription(message).asRuntimeException());
  }
}
