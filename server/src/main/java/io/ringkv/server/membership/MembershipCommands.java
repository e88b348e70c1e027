package io.ringkv.server.membership;

import io.ringkv.proto.v1.AddNodeRequest;
import io.ringkv.proto.v1.AddNodeResponse;
import io.ringkv.proto.v1.PlanRequest;
import io.ringkv.proto.v1.PlanResponse;
import io.ringkv.proto.v1.RemoveNodeRequest;
import io.ringkv.proto.v1.RemoveNodeResponse;
import java.util.concurrent.CompletableFuture;

/**
 * The membership changes the Cluster service hands on to whoever decides them (the meta group's
 * leader, reached from any node). A future failed with a {@link io.grpc.StatusRuntimeException}
 * reaches the caller with that status; any other failure as INTERNAL.
 */
public interface MembershipCommands {
  CompletableFuture<AddNodeResponse> addNode(AddNodeRequest request);

  CompletableFuture<RemoveNodeResponse> removeNode(RemoveNodeRequest request);

  CompletableFuture<PlanResponse> plan(PlanRequest request);
}
