package io.ringkv.client;

import io.grpc.CallOptions;
import io.grpc.MethodDescriptor;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** One unary gRPC attempt to one address, as a future. No retries here. */
final class Transport {
  private final ChannelPool channels;

  Transport(ChannelPool channels) {
    this.channels = channels;
  }

  <Req, Resp> CompletableFuture<Resp> unary(
      String address, MethodDescriptor<Req, Resp> method, Req request, long timeoutNanos) {
    CompletableFuture<Resp> result = new CompletableFuture<>();
    try {
      CallOptions options =
          CallOptions.DEFAULT.withDeadlineAfter(timeoutNanos, TimeUnit.NANOSECONDS);
      ClientCalls.asyncUnaryCall(
          channels.channel(address).newCall(method, options),
          request,
          new StreamObserver<>() {
            @Override
            public void onNext(Resp value) {
              result.complete(value);
            }

            @Override
            public void onError(Throwable error) {
              result.completeExceptionally(error);
            }

            @Override
            public void onCompleted() {
              if (!result.isDone()) {
                result.completeExceptionally(
                    io.grpc.Status.INTERNAL.withDescription("no response").asRuntimeException());
              }
            }
          });
    } catch (RuntimeException e) {
      result.completeExceptionally(e);
    }
    return result;
  }
}
