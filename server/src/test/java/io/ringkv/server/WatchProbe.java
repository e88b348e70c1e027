package io.ringkv.server;

import io.grpc.Channel;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.ringkv.proto.v1.Event;
import io.ringkv.proto.v1.WatchGrpc;
import io.ringkv.proto.v1.WatchRequest;
import io.ringkv.proto.v1.WatchResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A Watch stream seen from a test's side: responses queue up as they arrive (or, with manual flow
 * control, only as many as the test asked for), and every wait is bounded.
 */
final class WatchProbe implements AutoCloseable {
  static final long WAIT_SECONDS = 30;

  private final LinkedBlockingQueue<Object> arrivals = new LinkedBlockingQueue<>();
  private volatile ClientCallStreamObserver<WatchRequest> call;
  private final Map<Integer, Long> cursor = new TreeMap<>();
  private final List<WatchResponse> responses = new ArrayList<>();
  private Throwable error;
  private boolean completed;

  private WatchProbe(Channel channel, WatchRequest request, boolean manualFlow) {
    WatchGrpc.newStub(channel)
        .watch(
            request,
            new ClientResponseObserver<WatchRequest, WatchResponse>() {
              @Override
              public void beforeStart(ClientCallStreamObserver<WatchRequest> requestStream) {
                call = requestStream;
                if (manualFlow) {
                  requestStream.disableAutoRequestWithInitial(1);
                }
              }

              @Override
              public void onNext(WatchResponse value) {
                arrivals.add(value);
              }

              @Override
              public void onError(Throwable t) {
                arrivals.add(t);
              }

              @Override
              public void onCompleted() {
                arrivals.add("completed");
              }
            });
  }

  static WatchProbe open(Channel channel, WatchRequest request) {
    return new WatchProbe(channel, request, false);
  }

  /** A stream that takes one response, then only what {@link #request} asks for. */
  static WatchProbe openManual(Channel channel, WatchRequest request) {
    return new WatchProbe(channel, request, true);
  }

  void request(int count) {
    call.request(count);
  }

  /** The next response, or null when the stream ended (see {@link #error()}). */
  WatchResponse next() throws InterruptedException {
    if (error != null || completed) {
      return null;
    }
    Object arrival = arrivals.poll(WAIT_SECONDS, TimeUnit.SECONDS);
    if (arrival == null) {
      throw new AssertionError("no Watch response within " + WAIT_SECONDS + " s");
    }
    if (arrival instanceof WatchResponse response) {
      responses.add(response);
      cursor.putAll(response.getCursor().getRevisionsMap());
      return response;
    }
    if (arrival instanceof Throwable t) {
      error = t;
    } else {
      completed = true;
    }
    return null;
  }

  /** The first response, which must be the created one. */
  WatchResponse created() throws InterruptedException {
    WatchResponse first = next();
    if (first == null || !first.getCreated()) {
      throw new AssertionError("expected a created response, got " + first + " / " + error);
    }
    return first;
  }

  /** Events until {@code count} arrived (fails if the stream ends or a wait times out first). */
  List<Event> events(int count) throws InterruptedException {
    List<Event> events = new ArrayList<>();
    while (events.size() < count) {
      WatchResponse response = next();
      if (response == null) {
        throw new AssertionError(
            "stream ended after " + events.size() + " of " + count + " events: " + error);
      }
      events.addAll(response.getEventsList());
    }
    return events;
  }

  /** Responses until one satisfies {@code done}; returns the events seen meanwhile. */
  List<Event> eventsUntil(java.util.function.Predicate<WatchResponse> done)
      throws InterruptedException {
    List<Event> events = new ArrayList<>();
    while (true) {
      WatchResponse response = next();
      if (response == null) {
        throw new AssertionError("stream ended: " + error);
      }
      events.addAll(response.getEventsList());
      if (done.test(response)) {
        return events;
      }
    }
  }

  /** Waits for the stream's end and returns its error (null if it completed). */
  Throwable awaitEnd() throws InterruptedException {
    while (next() != null) {
      // drain what came before the end
    }
    return error;
  }

  StatusRuntimeException statusError() {
    return (StatusRuntimeException) error;
  }

  /** The cursor as the responses so far left it. */
  Map<Integer, Long> cursor() {
    return cursor;
  }

  List<WatchResponse> responses() {
    return responses;
  }

  @Override
  public void close() {
    if (call != null) {
      call.cancel("test done", null);
    }
  }
}
