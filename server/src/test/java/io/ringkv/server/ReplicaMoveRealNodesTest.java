package io.ringkv.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.ringkv.proto.internal.ChangeReplicasRequest;
import io.ringkv.proto.internal.ChangeReplicasResponse;
import io.ringkv.proto.internal.ClusterMap;
import io.ringkv.proto.internal.ClusterMember;
import io.ringkv.proto.internal.CreateReplicaRequest;
import io.ringkv.proto.internal.DestroyReplicaRequest;
import io.ringkv.proto.internal.GroupProgressRequest;
import io.ringkv.proto.internal.GroupProgressResponse;
import io.ringkv.proto.internal.GroupReplicas;
import io.ringkv.proto.internal.PushClusterMapRequest;
import io.ringkv.proto.internal.ReplicaAdminGrpc;
import io.ringkv.proto.v1.ClusterGrpc;
import io.ringkv.proto.v1.GetRequest;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.proto.v1.TransferLeaderRequest;
import io.ringkv.server.config.ConfigLoader;
import io.ringkv.server.membership.ClusterMapFile;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves, on four real in-process nodes (own loopback addresses 127.0.2.1-4, real transports and
 * chunked snapshot transfer), that one replica moves to a node that joined by itself, step by step
 * as the meta leader will drive it, while writes go on: node 4 starts in join mode and learns the
 * map from node 1; a map with node 4 is pushed to everyone; then for partition 0 node 4 gets an
 * empty replica, becomes a learner, catches up (the log is compacted, so by snapshot), leadership
 * leaves the old node, one joint-consensus change swaps the voters, and the old replica is
 * destroyed. Afterwards every acknowledged write is in node 4's replica and readable through it,
 * the old node holds none of the partition's data, and after both restart node 4 still hosts the
 * partition and the old node does not.
 */
class ReplicaMoveRealNodesTest {
  private static final String[] HOSTS = {"127.0.2.1", "127.0.2.2", "127.0.2.3"};
  private static final String JOINER_HOST = "127.0.2.4";
  private static final String CLUSTER = "move";
  private static final int GROUP = 0;
  private static final long WAIT_SECONDS = 60;
  private static final long CALL_SECONDS = 10;
  private static final int WRITES_MAX = 3_000;

  @TempDir Path dataDir;
  private final RingkvNode[] nodes = new RingkvNode[5];
  private final String[][] flags = new String[5][];
  private final List<AutoCloseable> toClose = new ArrayList<>();
  private final Map<Long, ManagedChannel> channels = new ConcurrentHashMap<>();

  @AfterEach
  void close() throws Exception {
    LocalTestCluster.closeAll(toClose, nodes);
  }

  @Test
  void oneReplicaMovesToAJoinedNodeUnderWritesAndStaysMovedAfterRestarts() throws Exception {
    String[] extra = {
      "--partitions", "2", "--raft-tick-millis", "30", "--log-compaction-entries", "16"
    };
    String[][] three = LocalTestCluster.flags(dataDir, HOSTS, CLUSTER, extra);
    System.arraycopy(three, 0, flags, 1, 3);
    for (int node = 1; node <= 3; node++) {
      nodes[node] = RingkvNode.start(ConfigLoader.load(flags[node]));
    }
    flags[4] =
        LocalTestCluster.joinerFlags(
            dataDir, 4, CLUSTER, JOINER_HOST, address(nodes[1].clientAddress()), extra);
    nodes[4] = RingkvNode.start(ConfigLoader.load(flags[4]));
    assertThat(nodes[4].driver().partitions()).as("a joining node bootstraps nothing").isEmpty();
    assertThat(nodes[4].mapView().current().getMembersCount()).isEqualTo(3);

    ClusterMap withJoiner = withMember4(nodes[1].mapView().current());
    for (int node = 1; node <= 4; node++) {
      admin(node)
          .pushClusterMap(
              PushClusterMapRequest.newBuilder().setClusterId(CLUSTER).setMap(withJoiner).build());
    }
    for (int node = 1; node <= 4; node++) {
      assertThat(nodes[node].mapView().epoch()).isEqualTo(withJoiner.getEpoch());
    }

    Writer writer = new Writer();
    Thread writes = new Thread(writer, "move-test-writer");
    writes.start();
    LocalTestCluster.awaitTrue(
        "100 writes acknowledged", WAIT_SECONDS, () -> writer.acked() >= 100);

    long from = leaderOf(GROUP); // the hardest case: the leaving replica leads
    moveTo4(from, withJoiner);
    long movedAt = writer.acked();
    LocalTestCluster.awaitTrue(
        "100 writes after the move", WAIT_SECONDS, () -> writer.acked() >= movedAt + 100);
    writer.stop.set(true);
    writes.join(TimeUnit.SECONDS.toMillis(WAIT_SECONDS));
    assertThat(writer.failure).as("writer failure").isNull();
    System.out.printf(
        "acknowledged writes: %d (%d when the move had finished)%n", writer.acked(), movedAt);

    long commit = progress(leaderOf(GROUP)).getCommitIndex();
    LocalTestCluster.awaitTrue(
        "node 4 applied " + commit,
        WAIT_SECONDS,
        () -> nodes[4].driver().appliedIndex(GROUP) >= commit);
    for (Map.Entry<String, String> acked : writer.acknowledged.entrySet()) {
      assertThat(nodes[4].driver().store(GROUP).get(bytes(acked.getKey())))
          .as("%s in node 4's replica", acked.getKey())
          .hasValueSatisfying(v -> assertThat(v.value()).isEqualTo(bytes(acked.getValue())));
    }
    String someKey = writer.acknowledged.keySet().iterator().next();
    assertThat(
            kv(4)
                .get(GetRequest.newBuilder().setKey(ByteString.copyFromUtf8(someKey)).build())
                .getValue()
                .toStringUtf8())
        .isEqualTo(writer.acknowledged.get(someKey));
    int fromIndex = (int) from;
    assertThat(nodes[fromIndex].driver().hosts(GROUP)).isFalse();
    assertThat(nodes[fromIndex].storageEngine().persistedGroups()).doesNotContain((long) GROUP);
    assertThat(nodes[fromIndex].storageEngine().partition(GROUP).get(bytes(someKey))).isEmpty();

    for (int node : new int[] {4, fromIndex}) {
      closeChannel(node);
      nodes[node].close();
      nodes[node] = null;
    }
    assertThat(Files.exists(dataDir.resolve("n4").resolve(ClusterMapFile.FILE_NAME))).isTrue();
    for (int node : new int[] {4, fromIndex}) {
      nodes[node] = RingkvNode.start(ConfigLoader.load(flags[node]));
    }
    assertThat(nodes[4].driver().hosts(GROUP)).as("node 4 after restart").isTrue();
    assertThat(nodes[fromIndex].driver().hosts(GROUP)).as("old node after restart").isFalse();
    assertThat(nodes[4].mapView().current().getGroups(GROUP).getVotersList()).contains(4L);
    LocalTestCluster.awaitTrue(
        "node 4 votes in the partition after restart",
        WAIT_SECONDS,
        () -> {
          var status = nodes[4].driver().status(GROUP);
          return status != null && status.voters().contains(4L) && status.leaderId() != 0;
        });
  }

  /** The move as the meta leader's coordinator runs it, one phase after the other. */
  private void moveTo4(long from, ClusterMap map) throws Exception {
    StatusRuntimeException foreign =
        org.assertj.core.api.Assertions.catchThrowableOfType(
            StatusRuntimeException.class,
            () ->
                admin(4)
                    .createReplica(
                        CreateReplicaRequest.newBuilder()
                            .setClusterId("another")
                            .setGroup(GROUP)
                            .build()));
    assertThat(foreign.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(nodes[4].driver().hosts(GROUP)).as("nothing done for another cluster").isFalse();

    // ADD_LEARNER
    assertThat(
            admin(4)
                .createReplica(
                    CreateReplicaRequest.newBuilder()
                        .setClusterId(CLUSTER)
                        .setGroup(GROUP)
                        .setMap(map)
                        .build())
                .getCreated())
        .isTrue();
    ChangeReplicasResponse learner =
        onLeader(admin ->
            admin.changeReplicas(change(ChangeReplicasRequest.Operation.ADD_LEARNER, 4, 0)));
    assertThat(learner.getConf().getLearnersList()).containsExactly(4L);

    // CATCH_UP: to the leader's commit index as of the first poll
    long target = progress(leaderOf(GROUP)).getCommitIndex();
    LocalTestCluster.awaitTrue(
        "node 4 matches " + target,
        WAIT_SECONDS,
        () ->
            currentLeader(GROUP) != 0
                && progress(currentLeader(GROUP)).getProgressList().stream()
                    .anyMatch(m -> m.getNodeId() == 4 && m.getMatchIndex() >= target));

    // PROMOTE: leadership leaves from, then one joint change
    if (leaderOf(GROUP) == from) {
      long to = from == 1 ? 2 : 1;
      cluster((int) from)
          .transferLeader(
              TransferLeaderRequest.newBuilder().setPartition(GROUP).setToNodeId(to).build());
      LocalTestCluster.awaitTrue(
          "leadership left node " + from,
          WAIT_SECONDS,
          () -> currentLeader(GROUP) != 0 && currentLeader(GROUP) != from);
    }
    ChangeReplicasResponse replaced =
        onLeader(admin ->
            admin.changeReplicas(change(ChangeReplicasRequest.Operation.REPLACE_VOTER, 4, from)));
    assertThat(replaced.getConf().getVotersList()).contains(4L).doesNotContain(from);
    assertThat(replaced.getConf().getVotersOutgoingList()).isEmpty();

    // CLEANUP: the old node may apply its removal a moment after the leader
    LocalTestCluster.awaitTrue(
        "node " + from + " destroyed its replica",
        WAIT_SECONDS,
        () -> {
          try {
            admin((int) from)
                .destroyReplica(
                    DestroyReplicaRequest.newBuilder()
                        .setClusterId(CLUSTER)
                        .setGroup(GROUP)
                        .setMapEpoch(map.getEpoch())
                        .build());
            return true;
          } catch (StatusRuntimeException e) {
            if (e.getStatus().getCode() != Status.Code.FAILED_PRECONDITION) {
              throw e;
            }
            return false;
          }
        });
    ClusterMap.Builder next = map.toBuilder().setEpoch(map.getEpoch() + 1);
    next.setGroups(
        GROUP,
        GroupReplicas.newBuilder()
            .addAllVoters(replaced.getConf().getVotersList())
            .setEpoch(map.getEpoch() + 1));
    for (int node = 1; node <= 4; node++) {
      admin(node)
          .pushClusterMap(
              PushClusterMapRequest.newBuilder().setClusterId(CLUSTER).setMap(next).build());
    }
  }

  private ChangeReplicasRequest change(
      ChangeReplicasRequest.Operation operation, long add, long remove) {
    return ChangeReplicasRequest.newBuilder()
        .setClusterId(CLUSTER)
        .setGroup(GROUP)
        .setOperation(operation)
        .setAddNode(add)
        .setRemoveNode(remove)
        .build();
  }

  /** Calls the group's leader, asking again (briefly) while leadership moves. */
  private <T> T onLeader(Function<ReplicaAdminGrpc.ReplicaAdminBlockingStub, T> call)
      throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
    while (true) {
      try {
        return call.apply(admin((int) leaderOf(GROUP)));
      } catch (StatusRuntimeException e) {
        if (e.getStatus().getCode() != Status.Code.UNAVAILABLE || System.nanoTime() > deadline) {
          throw e;
        }
        TimeUnit.MILLISECONDS.sleep(50); // leadership is moving: ask the new leader shortly
      }
    }
  }

  /** The node leading {@code group}, waiting for one. */
  private long leaderOf(int group) throws Exception {
    LocalTestCluster.awaitTrue(
        "a leader of group " + group, WAIT_SECONDS, () -> currentLeader(group) != 0);
    return currentLeader(group);
  }

  /** The node whose replica of {@code group} says it leads, or 0. */
  private long currentLeader(int group) {
    for (int node = 1; node <= 4; node++) {
      if (nodes[node] == null) {
        continue;
      }
      var status = nodes[node].driver().status(group);
      if (status != null && status.role() == io.ringkv.raft.Role.LEADER) {
        return node;
      }
    }
    return 0;
  }

  private GroupProgressResponse progress(long node) {
    return admin((int) node)
        .groupProgress(
            GroupProgressRequest.newBuilder().setClusterId(CLUSTER).setGroup(GROUP).build());
  }

  /** Writes keys of partition 0 through node 1 until stopped, remembering what was acknowledged. */
  private final class Writer implements Runnable {
    final Map<String, String> acknowledged = new ConcurrentHashMap<>();
    final AtomicBoolean stop = new AtomicBoolean();
    volatile Throwable failure;

    long acked() {
      return acknowledged.size();
    }

    @Override
    public void run() {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS * 3);
      try {
        KVGrpc.KVBlockingStub kv = KVGrpc.newBlockingStub(channel(1)); // deadline per call
        for (int i = 0; i < WRITES_MAX && !stop.get(); i++) {
          String key = keyOfGroup0(i);
          String value = "v" + i;
          LocalTestCluster.putRetrying(
              kv,
              PutRequest.newBuilder()
                  .setKey(ByteString.copyFromUtf8(key))
                  .setValue(ByteString.copyFromUtf8(value))
                  .build(),
              CALL_SECONDS,
              deadline);
          acknowledged.put(key, value);
        }
      } catch (Throwable e) {
        failure = e;
      }
    }
  }

  private String keyOfGroup0(int i) {
    for (int suffix = 0; ; suffix++) {
      String key = "k" + i + "-" + suffix;
      if (nodes[1].config().partitionLayout().partitionOfKey(bytes(key)) == GROUP) {
        return key;
      }
    }
  }

  private ClusterMap withMember4(ClusterMap map) {
    long epoch = map.getEpoch() + 1;
    return map.toBuilder()
        .setEpoch(epoch)
        .addMembers(
            ClusterMember.newBuilder()
                .setNodeId(4)
                .setClientAddress(address(nodes[4].clientAddress()))
                .setPeerAddress(address(nodes[4].peerAddress()))
                .setState(ClusterMember.State.ACTIVE)
                .setStateEpoch(epoch)
                .setStateReason("joined (test)"))
        .build();
  }

  private static String address(InetSocketAddress address) {
    return address.getHostString() + ":" + address.getPort();
  }

  private ManagedChannel channel(int node) {
    return channels.computeIfAbsent(
        (long) node, id -> LocalTestCluster.channel(nodes[node], toClose));
  }

  private void closeChannel(int node) {
    ManagedChannel channel = channels.remove((long) node);
    if (channel != null) {
      channel.shutdownNow();
    }
  }

  private ReplicaAdminGrpc.ReplicaAdminBlockingStub admin(int node) {
    return ReplicaAdminGrpc.newBlockingStub(channel(node))
        .withDeadlineAfter(CALL_SECONDS, TimeUnit.SECONDS);
  }

  private ClusterGrpc.ClusterBlockingStub cluster(int node) {
    return ClusterGrpc.newBlockingStub(channel(node))
        .withDeadlineAfter(CALL_SECONDS, TimeUnit.SECONDS);
  }

  private KVGrpc.KVBlockingStub kv(int node) {
    return KVGrpc.newBlockingStub(channel(node)).withDeadlineAfter(CALL_SECONDS, TimeUnit.SECONDS);
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }
}
