package io.ringkv.client.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.ringkv.proto.v1.AddNodeRequest;
import io.ringkv.proto.v1.AddNodeResponse;
import io.ringkv.proto.v1.ClusterGrpc;
import io.ringkv.proto.v1.Member;
import io.ringkv.proto.v1.MembersRequest;
import io.ringkv.proto.v1.MembersResponse;
import io.ringkv.proto.v1.PartitionsRequest;
import io.ringkv.proto.v1.PartitionsResponse;
import io.ringkv.proto.v1.PlanRequest;
import io.ringkv.proto.v1.PlanResponse;
import io.ringkv.proto.v1.PlannedMove;
import io.ringkv.proto.v1.RemoveNodeRequest;
import io.ringkv.proto.v1.RemoveNodeResponse;
import io.ringkv.proto.v1.StatusRequest;
import io.ringkv.proto.v1.StatusResponse;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Proves ringctl's membership commands: join, decommission, remove --dead and plan send the request
 * the Cluster API defines, print the moves as a table (partition, from, to, bytes, reason) with
 * totals against the theoretical share, or as JSON; a refusal or a server error exits 2 with the
 * reason; usage errors (remove without --dead, plan with no change or two) exit 2 without calling;
 * status and members show map state, replica counts and moves in progress. A scripted Cluster
 * service on 127.0.4.21 answers.
 */
class ClusterChangeCommandsTest {
  record Run(int exitCode, String out, String err) {}

  /** Records requests and answers canned responses. */
  static final class ScriptedCluster extends ClusterGrpc.ClusterImplBase {
    final List<Object> requests = new CopyOnWriteArrayList<>();
    volatile String address;
    volatile String refusal = "";
    volatile Status removeError;

    @Override
    public void addNode(AddNodeRequest request, StreamObserver<AddNodeResponse> observer) {
      requests.add(request);
      observer.onNext(
          AddNodeResponse.newBuilder().setNodeId(4).setMapEpoch(2).addAllMoves(moves("")).build());
      observer.onCompleted();
    }

    @Override
    public void removeNode(RemoveNodeRequest request, StreamObserver<RemoveNodeResponse> observer) {
      requests.add(request);
      if (removeError != null) {
        observer.onError(removeError.asRuntimeException());
        return;
      }
      observer.onNext(RemoveNodeResponse.newBuilder().setMapEpoch(3).build());
      observer.onCompleted();
    }

    @Override
    public void plan(PlanRequest request, StreamObserver<PlanResponse> observer) {
      requests.add(request);
      observer.onNext(
          PlanResponse.newBuilder()
              .setMapEpoch(1)
              .addAllMoves(refusal.isEmpty() ? moves("") : List.of())
              .setSlotsTotal(8)
              .setTheoreticalShare(0.25)
              .setRefusal(refusal)
              .build());
      observer.onCompleted();
    }

    @Override
    public void status(StatusRequest request, StreamObserver<StatusResponse> observer) {
      observer.onNext(
          StatusResponse.newBuilder()
              .setClusterId("c")
              .setNodeId(1)
              .setMapEpoch(5)
              .setReplicationFactor(1)
              .addAllMembers(members().getMembersList())
              .addAllMoves(moves("catch-up"))
              .setUnderReplicatedPartitions(1)
              .build());
      observer.onCompleted();
    }

    @Override
    public void members(MembersRequest request, StreamObserver<MembersResponse> observer) {
      observer.onNext(members());
      observer.onCompleted();
    }

    @Override
    public void partitions(PartitionsRequest request, StreamObserver<PartitionsResponse> observer) {
      observer.onNext(PartitionsResponse.newBuilder().setMapEpoch(5).build());
      observer.onCompleted();
    }

    MembersResponse members() {
      return MembersResponse.newBuilder()
          .setMapEpoch(5)
          .setNodeId(1)
          .addMembers(
              Member.newBuilder()
                  .setNodeId(1)
                  .setClientAddress(address)
                  .setState(Member.State.ALIVE)
                  .setMapState("active")
                  .setReplicas(6))
          .addMembers(
              Member.newBuilder()
                  .setNodeId(3)
                  .setClientAddress("127.0.4.23:1")
                  .setState(Member.State.DEAD)
                  .setMapState("removed")
                  .setReplicas(2))
          .build();
    }

    static List<PlannedMove> moves(String phase) {
      return List.of(
          PlannedMove.newBuilder()
              .setPartition(2)
              .setFromNodeId(1)
              .setToNodeId(4)
              .setReason("token 0x3a00000000000000 now owned by node 4")
              .setBytesEstimate(3 * 1024 * 1024)
              .setPhase(phase)
              .build(),
          PlannedMove.newBuilder()
              .setPartition(5)
              .setToNodeId(4)
              .setReason("partition below replication factor")
              .setBytesEstimate(512)
              .setPhase(phase)
              .build());
    }
  }

  private ScriptedCluster cluster;
  private Server server;
  private String endpoint;

  @BeforeEach
  void start() throws Exception {
    cluster = new ScriptedCluster();
    server =
        NettyServerBuilder.forAddress(new InetSocketAddress("127.0.4.21", 0))
            .addService(cluster)
            .build()
            .start();
    endpoint = "127.0.4.21:" + server.getPort();
    cluster.address = endpoint;
  }

  @AfterEach
  void stop() {
    server.shutdownNow();
  }

  private Run ringctl(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    String[] full = new String[args.length + 4];
    full[0] = "--endpoints";
    full[1] = endpoint;
    full[2] = "--timeout-ms";
    full[3] = "3000";
    System.arraycopy(args, 0, full, 4, args.length);
    int code = RingCtl.run(new PrintWriter(out), new PrintWriter(err), full);
    return new Run(code, out.toString(), err.toString());
  }

  @Test
  void joinSendsTheAddressAndPrintsThePlannedMoves() {
    Run run = ringctl("cluster", "join", "127.0.4.24:7379");
    assertThat(run.exitCode()).isZero();
    assertThat(cluster.requests)
        .containsExactly(AddNodeRequest.newBuilder().setClientAddress("127.0.4.24:7379").build());
    assertThat(run.out())
        .isEqualTo(
            "node 4 at 127.0.4.24:7379 joined (map epoch 2); 2 replica moves planned\n"
                + "PARTITION FROM  TO         BYTES  REASON\n"
                + "2         1     4        3.0 MiB  token 0x3a00000000000000 now owned by node 4\n"
                + "5         -     4          512 B  partition below replication factor\n");
  }

  @Test
  void decommissionAndRemoveDeadSendTheirRequests() {
    assertThat(ringctl("cluster", "decommission", "2").exitCode()).isZero();
    Run dead = ringctl("cluster", "remove", "3", "--dead");
    assertThat(dead.exitCode()).isZero();
    assertThat(dead.out()).startsWith("node 3 removed as dead (map epoch 3)");
    assertThat(cluster.requests)
        .containsExactly(
            RemoveNodeRequest.newBuilder().setNodeId(2).build(),
            RemoveNodeRequest.newBuilder().setNodeId(3).setDead(true).build());
  }

  @Test
  void aRefusedDecommissionExitsTwoWithTheReason() {
    cluster.removeError =
        Status.FAILED_PRECONDITION.withDescription(
            "decommission of node 2 refused: 2 active members would remain, replication factor"
                + " is 3");
    Run run = ringctl("cluster", "decommission", "2");
    assertThat(run.exitCode()).isEqualTo(2);
    assertThat(run.err()).contains("replication factor is 3");
  }

  @Test
  void usageErrorsExitTwoWithoutCalling() {
    assertThat(ringctl("cluster", "remove", "3").exitCode()).isEqualTo(2);
    assertThat(ringctl("cluster", "plan", "--join", "h:1", "--remove", "2").exitCode())
        .isEqualTo(2);
    assertThat(cluster.requests).isEmpty();
  }

  @Test
  void planWithNoChangeAsksForTheMovesStillNeeded() {
    Run run = ringctl("cluster", "plan");
    assertThat(run.exitCode()).isZero();
    assertThat(cluster.requests).containsExactly(PlanRequest.getDefaultInstance());
  }

  @Test
  void planPrintsTheTableAndTotalsAgainstTheTheoreticalShare() {
    Run run = ringctl("cluster", "plan", "--remove", "2");
    assertThat(run.exitCode()).isZero();
    assertThat(cluster.requests)
        .containsExactly(PlanRequest.newBuilder().setRemoveNodeId(2).build());
    assertThat(run.out())
        .isEqualTo(
            "plan at map epoch 1\n"
                + "PARTITION FROM  TO         BYTES  REASON\n"
                + "2         1     4        3.0 MiB  token 0x3a00000000000000 now owned by node 4\n"
                + "5         -     4          512 B  partition below replication factor\n"
                + "2 of 8 replica slots move (25.0%; theoretical share 25.0%), about 3.0 MiB\n");
    Run json = ringctl("--output", "json", "cluster", "plan", "--join", "127.0.4.24:7379");
    assertThat(json.out())
        .startsWith("{\"map_epoch\":1,\"moves\":[{\"partition\":2,\"from\":1,\"to\":4,")
        .contains("\"slots_total\":8,\"slots_moved\":2,\"theoretical_share\":0.25");
  }

  @Test
  void aRefusedPlanExitsTwoAndSaysWhy() {
    cluster.refusal = "only 2 active members would remain; replication factor is 3";
    Run run = ringctl("cluster", "plan", "--remove", "2");
    assertThat(run.exitCode()).isEqualTo(2);
    assertThat(run.out())
        .isEqualTo("refused: only 2 active members would remain; replication factor is 3\n");
  }

  @Test
  void statusAndMembersShowTheMap() {
    Run status = ringctl("cluster", "status");
    assertThat(status.exitCode()).as(status.err()).isZero(); // the removed member is not asked
    assertThat(status.out())
        .contains("map epoch 5")
        .contains("replica moves in progress: 2  under-replicated partitions: 1")
        .contains("PARTITION FROM  TO    PHASE            BYTES  REASON")
        .contains("5         -     4     catch-up         512 B  partition below");
    assertThat(status.out().lines().filter(line -> line.startsWith("3 ")).findFirst())
        .hasValueSatisfying(line -> assertThat(line).contains("removed").contains("no (removed)"));
    Run members = ringctl("cluster", "members");
    assertThat(members.out())
        .contains("as seen by node 1 (map epoch 5)")
        .contains("MAP             REPLICAS");
    assertThat(members.out().lines().filter(line -> line.startsWith("1 ")).findFirst())
        .hasValueSatisfying(line -> assertThat(line).contains("active").contains(" 6 "));
  }
}
