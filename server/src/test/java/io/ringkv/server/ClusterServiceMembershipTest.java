package io.ringkv.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.ringkv.proto.v1.AddNodeRequest;
import io.ringkv.proto.v1.AddNodeResponse;
import io.ringkv.proto.v1.PlanRequest;
import io.ringkv.proto.v1.PlanResponse;
import io.ringkv.proto.v1.RemoveNodeRequest;
import io.ringkv.proto.v1.RemoveNodeResponse;
import io.ringkv.server.config.ConfigLoader;
import io.ringkv.server.config.NodeConfig;
import io.ringkv.server.membership.ClusterMapView;
import io.ringkv.server.membership.ClusterMaps;
import io.ringkv.server.membership.MembershipCommands;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves the Cluster service hands AddNode, RemoveNode and Plan to its MembershipCommands as they
 * came, passes the commands' status errors through unchanged, refuses requests that name no change
 * before asking, and answers UNIMPLEMENTED without commands. The service is called directly: no
 * sockets.
 */
class ClusterServiceMembershipTest {
  @TempDir Path dataDir;

  /** Records what it was asked and answers with canned responses or a canned error. */
  static final class RecordingCommands implements MembershipCommands {
    final List<Object> asked = new ArrayList<>();
    RuntimeException failure;

    private <T> CompletableFuture<T> answer(Object request, T response) {
      asked.add(request);
      return failure == null
          ? CompletableFuture.completedFuture(response)
          : CompletableFuture.failedFuture(failure);
    }

    @Override
    public CompletableFuture<AddNodeResponse> addNode(AddNodeRequest request) {
      return answer(request, AddNodeResponse.newBuilder().setMapEpoch(2).setNodeId(4).build());
    }

    @Override
    public CompletableFuture<RemoveNodeResponse> removeNode(RemoveNodeRequest request) {
      return answer(request, RemoveNodeResponse.newBuilder().setMapEpoch(3).build());
    }

    @Override
    public CompletableFuture<PlanResponse> plan(PlanRequest request) {
      return answer(request, PlanResponse.newBuilder().setSlotsTotal(24).build());
    }
  }

  /** Collects one unary answer. */
  static final class Answer<T> implements StreamObserver<T> {
    T value;
    Throwable error;
    boolean completed;

    @Override
    public void onNext(T value) {
      this.value = value;
    }

    @Override
    public void onError(Throwable error) {
      this.error = error;
    }

    @Override
    public void onCompleted() {
      completed = true;
    }

    Status.Code code() {
      return ((StatusRuntimeException) error).getStatus().getCode();
    }
  }

  private ClusterService service(MembershipCommands commands) {
    NodeConfig config =
        ConfigLoader.load(new String[] {"--data-dir", dataDir.toString(), "--host", "127.0.4.1"});
    return new ClusterService(
        config,
        new ClusterMapView(ClusterMaps.initial(config)),
        null,
        null,
        node -> false,
        null,
        commands);
  }

  @Test
  void handsRequestsToTheCommands() {
    RecordingCommands commands = new RecordingCommands();
    ClusterService service = service(commands);
    AddNodeRequest add = AddNodeRequest.newBuilder().setClientAddress("127.0.4.4:7379").build();
    Answer<AddNodeResponse> added = new Answer<>();
    service.addNode(add, added);
    assertThat(added.completed).isTrue();
    assertThat(added.value.getNodeId()).isEqualTo(4);

    RemoveNodeRequest remove = RemoveNodeRequest.newBuilder().setNodeId(2).setDead(true).build();
    Answer<RemoveNodeResponse> removed = new Answer<>();
    service.removeNode(remove, removed);
    assertThat(removed.value.getMapEpoch()).isEqualTo(3);

    PlanRequest plan = PlanRequest.newBuilder().setRemoveNodeId(2).build();
    Answer<PlanResponse> planned = new Answer<>();
    service.plan(plan, planned);
    assertThat(planned.value.getSlotsTotal()).isEqualTo(24);
    assertThat(commands.asked).containsExactly(add, remove, plan);
  }

  @Test
  void statusErrorsOfTheCommandsPassThrough() {
    RecordingCommands commands = new RecordingCommands();
    commands.failure =
        Status.FAILED_PRECONDITION
            .withDescription("only 2 active members would remain; replication factor is 3")
            .asRuntimeException();
    Answer<RemoveNodeResponse> removed = new Answer<>();
    service(commands).removeNode(RemoveNodeRequest.newBuilder().setNodeId(2).build(), removed);
    assertThat(removed.code()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(removed.error).hasMessageContaining("replication factor is 3");

    commands.failure = new IllegalStateException("boom");
    Answer<PlanResponse> planned = new Answer<>();
    service(commands).plan(PlanRequest.newBuilder().setJoinAddress("h:1").build(), planned);
    assertThat(planned.code()).isEqualTo(Status.Code.INTERNAL);
  }

  @Test
  void changesNamingNoNodeAreRefusedBeforeAsking() {
    RecordingCommands commands = new RecordingCommands();
    ClusterService service = service(commands);
    Answer<AddNodeResponse> added = new Answer<>();
    service.addNode(AddNodeRequest.getDefaultInstance(), added);
    Answer<RemoveNodeResponse> removed = new Answer<>();
    service.removeNode(RemoveNodeRequest.getDefaultInstance(), removed);
    assertThat(List.of(added.code(), removed.code())).containsOnly(Status.Code.INVALID_ARGUMENT);
    assertThat(commands.asked).isEmpty();
  }

  @Test
  void aPlanNamingNoChangeAsksForTheMovesStillNeeded() {
    RecordingCommands commands = new RecordingCommands();
    Answer<PlanResponse> planned = new Answer<>();
    service(commands).plan(PlanRequest.getDefaultInstance(), planned);
    assertThat(planned.error).isNull();
    assertThat(commands.asked).containsExactly(PlanRequest.getDefaultInstance());
  }

  @Test
  void withoutCommandsTheChangesAreUnimplemented() {
    Answer<AddNodeResponse> added = new Answer<>();
    service(null)
        .addNode(AddNodeRequest.newBuilder().setClientAddress("127.0.4.4:7379").build(), added);
    assertThat(added.code()).isEqualTo(Status.Code.UNIMPLEMENTED);
  }
}
