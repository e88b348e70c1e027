package io.ringkv.server.auth;

import io.grpc.Channel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import io.ringkv.proto.internal.AuthRecord;
import io.ringkv.proto.internal.StoredUser;
import io.ringkv.proto.v1.AuthChangeResponse;
import io.ringkv.proto.v1.AuthDisableRequest;
import io.ringkv.proto.v1.AuthEnableRequest;
import io.ringkv.proto.v1.AuthGrpc;
import io.ringkv.proto.v1.AuthStatusRequest;
import io.ringkv.proto.v1.AuthStatusResponse;
import io.ringkv.proto.v1.RoleGrantRequest;
import io.ringkv.proto.v1.RoleListRequest;
import io.ringkv.proto.v1.RoleListResponse;
import io.ringkv.proto.v1.RoleRequest;
import io.ringkv.proto.v1.UserAddRequest;
import io.ringkv.proto.v1.UserAddResponse;
import io.ringkv.proto.v1.UserInfo;
import io.ringkv.proto.v1.UserListRequest;
import io.ringkv.proto.v1.UserListResponse;
import io.ringkv.proto.v1.UserRequest;
import io.ringkv.proto.v1.UserRoleRequest;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import java.util.function.LongFunction;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import java.util.random.RandomGenerator;

/**
 * The Auth API. The meta group's leader reads and changes the record; any other node passes the
 * call on to it once (with the caller's credentials, so the leader checks the caller itself), and a
 * passed-on call that again meets a non-leader answers UNAVAILABLE (the client retries).
 */
public final class AuthService extends AuthGrpc.AuthImplBase {
  /** A call passed on to the meta leader waits this long at most. */
  static final long FORWARD_DEADLINE_MILLIS = 10_000;

  private final long selfNodeId;
  private final AuthStore store;
  private final AuthView view;
  private final BooleanSupplier leadsMeta;
  private final LongSupplier metaLeaderHint;
  private final LongFunction<Channel> channelTo;
  private final BooleanSupplier forwardedCall;
  private final RandomGenerator random;

  /**
   * @param metaLeaderHint the meta leader this node knows, else another meta voter, else 0
   * @param channelTo a channel to a member's client address
   * @param forwardedCall whether the call being served was passed on by another node
   * @param random where tokens come from (a SecureRandom)
   */
  public AuthService(
      long selfNodeId,
      AuthStore store,
      AuthView view,
      BooleanSupplier leadsMeta,
      LongSupplier metaLeaderHint,
      LongFunction<Channel> channelTo,
      BooleanSupplier forwardedCall,
      RandomGenerator random) {
    this.selfNodeId = selfNodeId;
    this.store = store;
    this.view = view;
    this.leadsMeta = leadsMeta;
    this.metaLeaderHint = metaLeaderHint;
    this.channelTo = channelTo;
    this.forwardedCall = forwardedCall;
    this.random = random;
  }

  @Override
  public void enable(AuthEnableRequest request, StreamObserver<AuthStatusResponse> observer) {
    String nodeToken = Tokens.issueNodeToken(random);
    serve(
        observer,
        stub -> stub.enable(request),
        () -> change(r -> AuthRecords.enable(r, nodeToken)).thenApply(AuthService::status));
  }

  @Override
  public void disable(AuthDisableRequest request, StreamObserver<AuthStatusResponse> observer) {
    serve(
        observer,
        stub -> stub.disable(request),
        () -> change(AuthRecords::disable).thenApply(AuthService::status));
  }

  @Override
  public void status(AuthStatusRequest request, StreamObserver<AuthStatusResponse> observer) {
    serve(
        observer, stub -> stub.status(request), () -> store.read().thenApply(AuthService::status));
  }

  @Override
  public void userAdd(UserAddRequest request, StreamObserver<UserAddResponse> observer) {
    serve(
        observer,
        stub -> stub.userAdd(request),
        () -> {
          AuthRecords.checkName("user", request.getName());
          Tokens.Issued issued = Tokens.issue(request.getName(), random);
          return change(r -> AuthRecords.addUser(r, request.getName(), issued))
              .thenApply(v ->
                  UserAddResponse.newBuilder()
                      .setToken(issued.token())
                      .setRevision(v.revision())
                      .build());
        });
  }

  @Override
  public void userDelete(UserRequest request, StreamObserver<AuthChangeResponse> observer) {
    changeServed(
        observer,
        stub -> stub.userDelete(request),
        r -> AuthRecords.deleteUser(r, request.getName()));
  }

  @Override
  public void userGrantRole(UserRoleRequest request, StreamObserver<AuthChangeResponse> observer) {
    changeServed(
        observer,
        stub -> stub.userGrantRole(request),
        r -> AuthRecords.grantUserRole(r, request.getName(), request.getRole()));
  }

  @Override
  public void userRevokeRole(UserRoleRequest request, StreamObserver<AuthChangeResponse> observer) {
    changeServed(
        observer,
        stub -> stub.userRevokeRole(request),
        r -> AuthRecords.revokeUserRole(r, request.getName(), request.getRole()));
  }

  @Override
  public void userList(UserListRequest request, StreamObserver<UserListResponse> observer) {
    serve(
        observer,
        stub -> stub.userList(request),
        () ->
            store
                .read()
                .thenApply(v -> {
                  UserListResponse.Builder users = UserListResponse.newBuilder();
                  for (StoredUser user : v.record().getUsersList()) {
                    users.addUsers(
                        UserInfo.newBuilder()
                            .setName(user.getName())
                            .addAllRoles(user.getRolesList()));
                  }
                  return users.build();
                }));
  }

  @Override
  public void roleAdd(RoleRequest request, StreamObserver<AuthChangeResponse> observer) {
    changeServed(
        observer, stub -> stub.roleAdd(request), r -> AuthRecords.addRole(r, request.getName()));
  }

  @Override
  public void roleGrant(RoleGrantRequest request, StreamObserver<AuthChangeResponse> observer) {
    changeServed(
        observer,
        stub -> stub.roleGrant(request),
        r -> AuthRecords.grantPermission(r, request.getName(), request.getPermission()));
  }

  @Override
  public void roleRevoke(RoleGrantRequest request, StreamObserver<AuthChangeResponse> observer) {
    changeServed(
        observer,
        stub -> stub.roleRevoke(request),
        r ->
            AuthRecords.revokePermission(
                r, request.getName(), request.getPermission().getPrefix()));
  }

  @Override
  public void roleList(RoleListRequest request, StreamObserver<RoleListResponse> observer) {
    serve(
        observer,
        stub -> stub.roleList(request),
        () ->
            store
                .read()
                .thenApply(v ->
                    RoleListResponse.newBuilder().addAllRoles(v.record().getRolesList()).build()));
  }

  private static AuthStatusResponse status(AuthStore.Versioned versioned) {
    return AuthStatusResponse.newBuilder()
        .setEnabled(versioned.record().getEnabled())
        .setRevision(versioned.revision())
        .build();
  }

  private void changeServed(
      StreamObserver<AuthChangeResponse> observer,
      Function<AuthGrpc.AuthBlockingStub, AuthChangeResponse> forward,
      UnaryOperator<AuthRecord> change) {
    serve(
        observer,
        forward,
        () ->
            change(change)
                .thenApply(v -> AuthChangeResponse.newBuilder().setRevision(v.revision()).build()));
  }

  /** Stores a change, and adopts the result here at once (other nodes follow within a second). */
  private CompletableFuture<AuthStore.Versioned> change(UnaryOperator<AuthRecord> change) {
    return store
        .change(change)
        .thenApply(v -> {
          view.adopt(v.record(), v.revision());
          return v;
        });
  }

  /** Serves locally on the meta leader, else passes the call on to it once. */
  private <T> void serve(
      StreamObserver<T> observer,
      Function<AuthGrpc.AuthBlockingStub, T> forward,
      Supplier<CompletableFuture<T>> local) {
    CompletableFuture<T> answer;
    try {
      answer =
          leadsMeta.getAsBoolean()
              ? local.get()
              : CompletableFuture.completedFuture(forward(forward));
    } catch (RuntimeException e) {
      answer = CompletableFuture.failedFuture(e);
    }
    answer.whenComplete((response, error) -> {
      if (error == null) {
        observer.onNext(response);
        observer.onCompleted();
        return;
      }
      Throwable cause = error instanceof CompletionException ? error.getCause() : error;
      observer.onError(
          cause instanceof StatusRuntimeException statusError
              ? statusError
              : Status.INTERNAL.withDescription(cause.toString()).asRuntimeException());
    });
  }

  private <T> T forward(Function<AuthGrpc.AuthBlockingStub, T> call) {
    long target = metaLeaderHint.getAsLong();
    if (forwardedCall.getAsBoolean() || target == 0 || target == selfNodeId) {
      throw io.ringkv.server.ForwardingHeaders.notMetaLeader(selfNodeId, target);
    }
    Metadata headers = new Metadata();
    headers.put(io.ringkv.server.ForwardingHeaders.FORWARDED, Long.toString(selfNodeId));
    // A node without a meta replica guesses a meta voter; a follower refuses naming the leader it
    // knows, and this node (never the follower) tries that one next.
    for (int tries = 1; ; tries++) {
      AuthGrpc.AuthBlockingStub stub =
          AuthGrpc.newBlockingStub(channelTo.apply(target))
              .withInterceptors(
                  MetadataUtils.newAttachHeadersInterceptor(headers),
                  CallerCredentials.passCallerOn())
              .withDeadlineAfter(FORWARD_DEADLINE_MILLIS, TimeUnit.MILLISECONDS);
      try {
        return call.apply(stub);
      } catch (StatusRuntimeException refused) {
        long next =
            io.ringkv.server.ForwardingHeaders.nextMetaHop(
                refused,
                target,
                selfNodeId,
                io.ringkv.server.ForwardingHeaders.META_FORWARD_TRIES_MAX - tries);
        if (next == 0) {
          throw refused;
        }
        target = next;
      }
    }
  }
}
