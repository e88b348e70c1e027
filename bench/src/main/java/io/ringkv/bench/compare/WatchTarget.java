package io.ringkv.bench.compare;

import com.google.protobuf.ByteString;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.options.WatchOption;
import io.etcd.jetcd.watch.WatchEvent;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.ringkv.proto.v1.Event;
import io.ringkv.proto.v1.WatchGrpc;
import io.ringkv.proto.v1.WatchRequest;
import io.ringkv.proto.v1.WatchResponse;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A prefix watch over ringkv (the raw {@code ringkv.v1.Watch} stub) or etcd (jetcd), the same for
 * both, for the changefeed figures. Each subscription gets its own connection to the member it is
 * given, so 16 consumers are 16 streams on 16 connections on both systems, and events are handed to
 * the sink on the transport's thread (ringkv) or jetcd's callback executor (etcd), which is where a
 * user of either client would see them.
 */
interface WatchTarget {
  /** What a subscription reports: each event's value, and the end of the stream. */
  interface Sink {
    /** One PUT event under the watched prefix. Called on a transport thread: must be quick. */
    void onPut(long sequence);

    /** The stream ended (an error, or the server completed it); no more events follow. */
    void onEnd(Throwable failure);
  }

  /** Where a subscription starts. */
  enum Start {
    /** Only changes made after the watch is established. */
    NOW,
    /** Every change the system still holds (ringkv OLDEST; etcd from revision 1). */
    OLDEST
  }

  /** An open watch; closing cancels it and releases its connection. */
  interface Subscription extends AutoCloseable {
    @Override
    void close();
  }

  /** Opens a watch of every key starting with {@code prefix} on the given member. */
  Subscription watchPrefix(String endpoint, byte[] prefix, Start start, Sink sink);

  /** Bytes of a value that carry its sequence number (big-endian), the rest is filler. */
  int SEQUENCE_BYTES = 8;

  /** Seconds a watch subscription waits to close its connection. */
  long CLOSE_WAIT_SECONDS = 5;

  /** The sequence number a value starts with, or -1 for a value too short to carry one. */
  static long sequenceOf(ByteString value) {
    if (value.size() < SEQUENCE_BYTES) {
      return -1;
    }
    long sequence = 0;
    for (int i = 0; i < SEQUENCE_BYTES; i++) {
      sequence = (sequence << 8) | (value.byteAt(i) & 0xff);
    }
    return sequence;
  }

  /** {@code value} with {@code sequence} written into its first bytes (big-endian). */
  static byte[] withSequence(byte[] value, long sequence) {
    byte[] copy = value.clone();
    for (int i = SEQUENCE_BYTES - 1; i >= 0; i--) {
      copy[i] = (byte) sequence;
      sequence >>>= 8;
    }
    return copy;
  }

  static WatchTarget of(String system) {
    return switch (system) {
      case "ringkv" -> new RingKv();
      case "etcd" -> new Etcd();
      default -> throw new IllegalArgumentException("target must be ringkv or etcd: " + system);
    };
  }

  /** A {@code ringkv.v1.Watch/Watch} stream per subscription, on its own channel. */
  final class RingKv implements WatchTarget {
    @Override
    public Subscription watchPrefix(String endpoint, byte[] prefix, Start start, Sink sink) {
      ManagedChannel channel = channel(endpoint);
      WatchRequest request =
          WatchRequest.newBuilder()
              .setPrefix(ByteString.copyFrom(prefix))
              .setStart(start == Start.NOW ? WatchRequest.Start.NOW : WatchRequest.Start.OLDEST)
              .build();
      Context.CancellableContext context =
          open(
              channel,
              request,
              new StreamObserver<>() {
                @Override
                public void onNext(WatchResponse response) {
                  for (Event event : response.getEventsList()) {
                    if (event.getKind() == Event.Kind.PUT) {
                      sink.onPut(sequenceOf(event.getValue()));
                    }
                  }
                }

                @Override
                public void onError(Throwable failure) {
                  sink.onEnd(failure);
                }

                @Override
                public void onCompleted() {
                  sink.onEnd(null);
                }
              });
      return () -> {
        context.cancel(null);
        closeChannel(channel);
      };
    }

    /** Starts a Watch stream; cancelling the returned context cancels the stream. */
    static Context.CancellableContext open(
        ManagedChannel channel, WatchRequest request, StreamObserver<WatchResponse> observer) {
      Context.CancellableContext context = Context.current().withCancellation();
      context.run(() -> WatchGrpc.newStub(channel).watch(request, observer));
      return context;
    }

    static ManagedChannel channel(String endpoint) {
      int colon = endpoint.lastIndexOf(':');
      return NettyChannelBuilder.forAddress(
              endpoint.substring(0, colon), Integer.parseInt(endpoint.substring(colon + 1)))
          .usePlaintext()
          .directExecutor() // the sinks only record a time and count
          .build();
    }

    static void closeChannel(ManagedChannel channel) {
      channel.shutdownNow();
      try {
        channel.awaitTermination(CLOSE_WAIT_SECONDS, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** A jetcd client per subscription, connected to that one member. */
  final class Etcd implements WatchTarget {
    @Override
    public Subscription watchPrefix(String endpoint, byte[] prefix, Start start, Sink sink) {
      Client client = Client.builder().endpoints("http://" + endpoint).build();
      WatchOption.Builder option = WatchOption.builder().isPrefix(true);
      if (start == Start.OLDEST) {
        option.withRevision(1);
      }
      Watch.Watcher watcher =
          client
              .getWatchClient()
              .watch(
                  ByteSequence.from(prefix),
                  option.build(),
                  Watch.listener(
                      response -> {
                        List<WatchEvent> events = response.getEvents();
                        for (WatchEvent event : events) {
                          if (event.getEventType() == WatchEvent.EventType.PUT) {
                            sink.onPut(
                                sequenceOf(
                                    ByteString.copyFrom(
                                        event.getKeyValue().getValue().getBytes())));
                          }
                        }
                      },
                      sink::onEnd,
                      () -> sink.onEnd(null)));
      return () -> {
        watcher.close();
        client.close();
      };
    }
  }
}
