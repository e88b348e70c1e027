package io.ringkv.jepsen.harness;

import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.ringkv.jepsen.Invariants;
import io.ringkv.jepsen.harness.cluster.ClusterSpec;
import io.ringkv.proto.v1.WatchGrpc;
import io.ringkv.proto.v1.WatchRequest;
import io.ringkv.proto.v1.WatchResponse;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * One {@code ringkv.v1.Watch/Watch} stream on its own channel to one node, through the raw
 * generated stub (the changefeed workload checks the server, independent of the Java client's watch
 * support). Flow control is manual: one response is requested at a time, so at most one response
 * and the stream's end wait in the queue. {@link #close()} shuts the channel down at once: to the
 * node the consumer vanished mid-stream, as a crashed process would.
 */
final class WatchStream implements AutoCloseable {
  /** What the stream gives next: a response, or its end ({@code status} OK when it completed). */
  sealed interface Item permits Response, Ended {}

  record Response(WatchResponse response) implements Item {}

  record Ended(Status status, Metadata trailers) implements Item {}

  private final ManagedChannel channel;
  private final BlockingQueue<Item> items = new LinkedBlockingQueue<>();
  private volatile ClientCallStreamObserver<WatchRequest> call;

  private WatchStream(ManagedChannel channel) {
    this.channel = channel;
  }

  /** Opens a stream of {@code request} on the node at {@code address}. */
  static WatchStream open(String address, WatchRequest request) {
    ManagedChannel channel =
        NettyChannelBuilder.forAddress(address, ClusterSpec.CLIENT_PORT).usePlaintext().build();
    WatchStream stream = new WatchStream(channel);
    WatchGrpc.newStub(channel).watch(request, stream.observer());
    Invariants.check(stream.call != null, "the stub did not call beforeStart");
    return stream;
  }

  private ClientResponseObserver<WatchRequest, WatchResponse> observer() {
    return new ClientResponseObserver<>() {
      @Override
      public void beforeStart(ClientCallStreamObserver<WatchRequest> requestStream) {
        requestStream.disableAutoRequestWithInitial(1);
        call = requestStream;
      }

      @Override
      public void onNext(WatchResponse response) {
        items.add(new Response(response));
      }

      @Override
      public void onError(Throwable t) {
        items.add(
            new Ended(
                Status.fromThrowable(t),
                java.util.Objects.requireNonNullElseGet(
                    Status.trailersFromThrowable(t), Metadata::new)));
      }

      @Override
      public void onCompleted() {
        items.add(new Ended(Status.OK, new Metadata()));
      }
    };
  }

  /**
   * The next item, waiting at most {@code timeoutNanos}; null when none came. Taking a response
   * asks the node for the next one.
   */
  Item next(long timeoutNanos) throws InterruptedException {
    Item item = items.poll(timeoutNanos, TimeUnit.NANOSECONDS);
    if (item instanceof Response) {
      call.request(1);
    }
    return item;
  }

  /** Responses received and not taken: what an abrupt end of the consumer throws away. */
  int pendingCount() {
    return (int) items.stream().filter(Response.class::isInstance).count();
  }

  @Override
  public void close() {
    channel.shutdownNow();
  }
}
