package io.ringkv.client;

import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import io.grpc.MethodDescriptor;
import io.ringkv.proto.v1.ResponseHeader;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Runs one client call as a series of attempts within its deadline.
 *
 * <p>Each attempt goes to one address: a leader named by a NOT_LEADER answer first, otherwise the
 * router's candidates in turn (leader, replicas, any node), moving to the next one after a failure
 * of the node. Retryable failures (see {@link CallFailure.Kind}) wait a jittered exponential
 * backoff; a redirect to a named leader goes at once, a few times. Each attempt's own timeout is
 * the smaller of the remaining time and the attempt timeout, so one paused node cannot eat a whole
 * deadline.
 *
 * <p>Writes carry the same (session, sequence) on every attempt, so retrying them is safe. The
 * caller learns whether a write whose deadline passed may have been applied: once any attempt
 * failed in a way that may have reached a node, the end is {@link OutcomeUnknownException}.
 */
final class RetryingCaller {
  /** Redirects to a named leader that skip the backoff, per call; beyond it they back off too. */
  static final int IMMEDIATE_REDIRECTS_MAX = 3;

  record Call<Req, Resp>(
      String operation,
      MethodDescriptor<Req, Resp> method,
      Req request,
      byte[] routingKey,
      boolean write,
      boolean servedByLeader,
      long deadlineNanos) {}

  private final Router router;
  private final Transport transport;
  private final Backoff backoff;
  private final LongSupplier nanoClock;
  private final ScheduledExecutorService scheduler;
  private final long attemptTimeoutNanos;

  RetryingCaller(
      Router router,
      Transport transport,
      Backoff backoff,
      LongSupplier nanoClock,
      ScheduledExecutorService scheduler,
      long attemptTimeoutNanos) {
    this.router = router;
    this.transport = transport;
    this.backoff = backoff;
    this.nanoClock = nanoClock;
    this.scheduler = scheduler;
    this.attemptTimeoutNanos = attemptTimeoutNanos;
  }

  private static final class State<Req, Resp> {
    final Call<Req, Resp> call;
    final CompletableFuture<Resp> result = new CompletableFuture<>();
    int attemptCount;
    int retryIndex;
    int candidateCursor;
    int immediateRedirects;
    String redirect;
    boolean writeMaybeApplied;
    CallFailure lastFailure;
    final Set<String> unreachable = new LinkedHashSet<>();

    State(Call<Req, Resp> call) {
      this.call = call;
    }
  }

  <Req, Resp> CompletableFuture<Resp> call(Call<Req, Resp> call) {
    State<Req, Resp> state = new State<>(call);
    if (call.routingKey() == null) {
      attempt(state);
    } else {
      // Wait for a first map no longer than the call may take; without one, seeds will do.
      long remainingNanos = Math.max(0, call.deadlineNanos() - nanoClock.getAsLong());
      router
          .ensureMap()
          .copy()
          .completeOnTimeout(null, remainingNanos, TimeUnit.NANOSECONDS)
          .whenComplete((map, error) -> attempt(state));
    }
    return state.result;
  }

  private <Req, Resp> void attempt(State<Req, Resp> state) {
    if (state.result.isDone()) {
      return; // cancelled by the caller
    }
    long remainingNanos = state.call.deadlineNanos() - nanoClock.getAsLong();
    if (remainingNanos <= 0) {
      finishAtDeadline(state);
      return;
    }
    String address = state.redirect;
    state.redirect = null;
    if (address == null) {
      List<String> candidates = router.candidates(state.call.routingKey());
      address = candidates.get(Math.floorMod(state.candidateCursor, candidates.size()));
    }
    state.attemptCount++;
    String target = address;
    transport
        .unary(
            target,
            state.call.method(),
            state.call.request(),
            Math.min(remainingNanos, attemptTimeoutNanos))
        .whenComplete((response, error) -> {
          if (error == null) {
            if (state.call.routingKey() != null) {
              router.onServed(
                  state.call.routingKey(), headerOf(response), state.call.servedByLeader());
            }
            state.result.complete(response);
          } else if (!CallFailure.isGrpcError(error)) {
            state.result.completeExceptionally(error); // the client is closed, or a bug
          } else {
            onFailure(state, CallFailure.classify(error, target));
          }
        });
  }

  private <Req, Resp> void onFailure(State<Req, Resp> state, CallFailure failure) {
    state.lastFailure = failure;
    if (failure.kind() == CallFailure.Kind.UNREACHABLE) {
      state.unreachable.add(failure.address());
    }
    if (state.call.write() && failure.kind().writeMayHaveApplied) {
      state.writeMaybeApplied = true;
    }
    if (!failure.kind().retryable) {
      state.result.completeExceptionally(
          failure.toException(
              state.call.write(), state.writeMaybeApplied, false, state.call.operation()));
      return;
    }
    boolean immediate = false;
    switch (failure.kind()) {
      case NOT_LEADER -> {
        router.onNotLeader(failure.detail());
        String leader = failure.detail().getLeaderAddress();
        if (!leader.isEmpty() && !leader.equals(failure.address())) {
          state.redirect = leader;
          immediate = state.immediateRedirects++ < IMMEDIATE_REDIRECTS_MAX;
        } else {
          state.candidateCursor++;
        }
      }
      case RESOURCE_EXHAUSTED -> state.redirect = failure.address();
      default -> {
        state.candidateCursor++;
        PartitionMap map = router.current();
        if (state.call.routingKey() != null
            && map != null
            && failure.address().equals(map.leaderFor(state.call.routingKey()))) {
          router.refresh(); // the leader we knew did not answer: it may have changed
        }
      }
    }
    long delayNanos = immediate ? 0 : backoff.delayNanos(state.retryIndex++);
    if (nanoClock.getAsLong() + delayNanos >= state.call.deadlineNanos()) {
      finishAtDeadline(state);
      return;
    }
    try {
      scheduler.schedule(() -> attempt(state), delayNanos, TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      state.result.completeExceptionally(
          new IllegalStateException("the ringkv client is closed", e));
    }
  }

  /** The response's {@code header} field, which every KV response has; null for others. */
  private static ResponseHeader headerOf(Object response) {
    if (response instanceof Message message) {
      FieldDescriptor field = message.getDescriptorForType().findFieldByName("header");
      if (field != null && message.getField(field) instanceof ResponseHeader header) {
        return header;
      }
    }
    return null;
  }

  private <Req, Resp> void finishAtDeadline(State<Req, Resp> state) {
    CallFailure last = state.lastFailure;
    if (last == null) {
      state.result.completeExceptionally(
          new DeadlineExceededException(
              state.call.operation() + " failed: deadline passed before it could be sent", null));
      return;
    }
    if (last.kind() == CallFailure.Kind.UNREACHABLE && !state.writeMaybeApplied) {
      state.result.completeExceptionally(
          new UnavailableException(
              state.call.operation()
                  + " failed: no node reachable at "
                  + String.join(", ", state.unreachable),
              last.status().asRuntimeException()));
      return;
    }
    state.result.completeExceptionally(
        last.toException(
            state.call.write(), state.writeMaybeApplied, true, state.call.operation()));
  }
}
