package io.ringkv.client;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.Status;
import io.ringkv.proto.v1.ErrorDetail;
import io.ringkv.proto.v1.Event;
import io.ringkv.proto.v1.WatchGrpc;
import io.ringkv.proto.v1.WatchRequest;
import io.ringkv.proto.v1.WatchResponse;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.Flow;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * One subscriber's watch: the gRPC streams it needs, their merge into one ordered sequence of
 * items, demand-driven flow control, and resumption after any failure.
 *
 * <p>Design notes. Flow control: every stream uses gRPC's manual inbound flow control and asks its
 * node for one response at a time, only while the subscriber has asked for more items than are
 * queued and fewer than {@code responsesBufferedMax} responses are queued or owed; a slow
 * subscriber therefore holds the client to a fixed number of responses while the node reads the
 * changefeed at the subscriber's pace. Cursors: each item carries the cursor after it, built from
 * the stream's events and response cursors; an event that is not the last of its revision leaves
 * its partition at the revision before (a cursor cannot point into a revision), and the ordinal of
 * the last such event handed over is remembered so that a resume skips what was already delivered.
 * Snapshot events never move the cursor; a partition whose snapshot phase runs keeps its previous
 * position. Resumption: on any retryable failure of any stream, every stream is cancelled, whatever
 * was received but not handed over is dropped, and new streams start, after a jittered backoff and
 * preferring other nodes, from the cursor of the last item handed over: nothing lost, nothing
 * repeated. A compacted cursor, a request the node refuses, or a resume that has not succeeded
 * within the resume timeout ends the subscription with an error, after the items received before.
 *
 * <p>All state is guarded by {@code this}; the subscriber is called by one thread at a time (the
 * drain loop), never while the lock is held, and never recursively.
 */
final class WatchSubscription implements Flow.Subscription {
  private static final System.Logger log = System.getLogger(WatchSubscription.class.getName());

  private final WatchQuery query;
  private final Flow.Subscriber<? super WatchItem> subscriber;
  private final ChannelPool channels;
  private final Router router;
  private final List<String> seeds;
  private final Backoff backoff;
  private final LongSupplier nanoClock;
  private final ScheduledExecutorService scheduler;
  private final Executor deliveryExecutor;
  private final int spread;

  /**
   * Silence that fails a stream: the query's idle timeout, and never under 3 progress intervals.
   */
  private final long idleTimeoutNanos;

  private final ArrayDeque<Pending> queue = new ArrayDeque<>();
  private final Set<String> avoid = new HashSet<>();
  private List<Stream> streams = List.of();
  private int generation;
  private long demand;
  private int responsesQueued;
  private int responsesOwed;
  private int responsesHeldHighWater;
  private WatchCursor deliveredCursor;
  private WatchCursor receivedCursor;

  /** Partition → {revision, ordinal} of the last event handed over, if not its revision's last. */
  private final Map<Integer, long[]> deliveredMidRevision = new HashMap<>();

  /** What a resumed stream must skip: events at or below these positions were handed over. */
  private final Map<Integer, long[]> resumeSkip = new HashMap<>();

  /** Streams of an ended generation, to cancel once the lock is released. */
  private List<Stream> streamsToStop = List.of();

  private RingKvException terminal;
  private boolean done;
  private boolean draining;
  private boolean missed;
  private long failingSinceNanos = -1;
  private int retryIndex;
  private int restarts;
  private ScheduledFuture<?> watchdog;

  /** An item and whether handing it over frees its response's place in the buffer. */
  private record Pending(WatchItem item, boolean endsResponse) {}

  WatchSubscription(
      WatchQuery query,
      Flow.Subscriber<? super WatchItem> subscriber,
      ChannelPool channels,
      Router router,
      List<String> seeds,
      Backoff backoff,
      LongSupplier nanoClock,
      ScheduledExecutorService scheduler,
      Executor deliveryExecutor,
      int spread) {
    this.query = query;
    this.subscriber = subscriber;
    this.channels = channels;
    this.router = router;
    this.seeds = List.copyOf(seeds);
    this.backoff = backoff;
    this.nanoClock = nanoClock;
    this.scheduler = scheduler;
    this.deliveryExecutor = deliveryExecutor;
    this.spread = spread;
    this.idleTimeoutNanos =
        Math.max(query.idleTimeout().toNanos(), 3 * query.progressInterval().toNanos());
    this.deliveredCursor = query.cursor();
    this.receivedCursor = query.cursor();
  }

  /** Hands the subscriber this subscription and opens the first streams. */
  void start() {
    subscriber.onSubscribe(this);
    long checkNanos = Math.max(1, idleTimeoutNanos / 4);
    synchronized (this) {
      if (done) {
        return;
      }
      try {
        watchdog =
            scheduler.scheduleWithFixedDelay(
                this::checkIdle, checkNanos, checkNanos, TimeUnit.NANOSECONDS);
      } catch (RejectedExecutionException e) {
        fail(new UnavailableException("watch not started: the client is closed", e));
      }
    }
    router.ensureMap().whenComplete((map, error) -> open(map, currentGeneration()));
  }

  // ---- Flow.Subscription ----

  @Override
  public void request(long n) {
    synchronized (this) {
      if (done) {
        return;
      }
      if (n <= 0) {
        terminal = null;
        done = true;
      } else {
        demand = demand + n < 0 ? Long.MAX_VALUE : demand + n;
      }
    }
    if (n <= 0) {
      stopStreams();
      subscriber.onError(
          new IllegalArgumentException("request(" + n + "): demand must be positive (rule 3.9)"));
      return;
    }
    pump();
    drain();
  }

  @Override
  public void cancel() {
    synchronized (this) {
      done = true;
    }
    stopStreams();
  }

  /** The most responses held at once (queued plus owed by a node), for tests of the bound. */
  synchronized int responsesHeldHighWater() {
    return responsesHeldHighWater;
  }

  /** The nodes the current streams go to, for tests that fail the serving node. */
  synchronized List<String> addresses() {
    return streams.stream().map(stream -> stream.route.address()).toList();
  }

  /** How many times the streams were restarted after a failure. */
  synchronized int restarts() {
    return restarts;
  }

  private synchronized int currentGeneration() {
    return generation;
  }

  // ---- streams ----

  /** Opens the streams of generation {@code expected} from the cursor last handed over. */
  private void open(PartitionMap map, int expected) {
    List<Stream> opened = new ArrayList<>();
    synchronized (this) {
      if (done || generation != expected) {
        return;
      }
      List<WatchRoutes.Route> routes = List.of();
      try {
        routes = WatchRoutes.plan(map, query, seeds, avoid, spread + restarts);
      } catch (RuntimeException e) {
        fail(new ServerErrorException("watch cannot be routed: " + e.getMessage(), e));
        opened.clear();
      }
      for (WatchRoutes.Route route : routes) {
        opened.add(new Stream(generation, route));
      }
      streams = List.copyOf(opened);
    }
    for (Stream stream : opened) {
      try {
        stream.begin(startCursor(stream.route));
      } catch (IllegalStateException e) { // the client was closed
        synchronized (this) {
          fail(new UnavailableException("watch ended: " + e.getMessage(), e));
        }
        break;
      }
    }
    afterChange();
  }

  /** What follows a change of state, outside the lock: stop old streams, ask, deliver. */
  private void afterChange() {
    stopStreamsOf(takeStreamsToStop());
    pump();
    try {
      deliveryExecutor.execute(this::drain);
    } catch (RejectedExecutionException e) {
      drain(); // the client is closing: deliver on this thread
    }
  }

  private synchronized WatchCursor startCursor(WatchRoutes.Route route) {
    if (route.partitions().isEmpty()) {
      return deliveredCursor;
    }
    Map<Integer, Long> mine = new HashMap<>();
    deliveredCursor
        .asMap()
        .forEach((partition, revision) -> {
          if (route.covers(partition)) {
            mine.put(partition, revision);
          }
        });
    return WatchCursor.of(mine);
  }

  /** Asks each stream for one more response while the subscriber wants more and room is left. */
  private void pump() {
    List<Stream> toAsk = new ArrayList<>();
    synchronized (this) {
      for (Stream stream : streams) {
        if (done || terminal != null || demand <= queue.size()) {
          break;
        }
        if (stream.started
            && stream.owed == 0
            && responsesQueued + responsesOwed < query.responsesBufferedMax()) {
          stream.owed = 1;
          stream.lastActivityNanos = nanoClock.getAsLong();
          responsesOwed++;
          responsesHeldHighWater =
              Math.max(responsesHeldHighWater, responsesQueued + responsesOwed);
          toAsk.add(stream);
        }
      }
    }
    toAsk.forEach(stream -> stream.call.request(1));
  }

  private void onResponse(Stream stream, WatchResponse response) {
    synchronized (this) {
      if (done || stream.generation != generation) {
        return;
      }
      stream.lastActivityNanos = nanoClock.getAsLong();
      if (response.hasCompacted()) {
        stream.compacted = response;
      }
      // The node answered: the failure episode, if any, is over.
      failingSinceNanos = -1;
      retryIndex = 0;
      avoid.clear();
      try {
        Invariants.check(
            stream.owed == 1, "response from %s not asked for", stream.route.address());
        stream.owed = 0;
        responsesOwed--;
        List<WatchItem> items = itemsOf(stream.route, response);
        for (int i = 0; i < items.size(); i++) {
          queue.add(new Pending(items.get(i), i == items.size() - 1));
        }
        if (!items.isEmpty()) {
          responsesQueued++;
        }
      } catch (IllegalStateException e) {
        fail(
            new ServerErrorException(
                "watch ended: node " + stream.route.address() + ": " + e.getMessage(), e));
      }
    }
    afterChange();
  }

  /** Turns one response into items, advancing the received cursor. Caller holds the lock. */
  private List<WatchItem> itemsOf(WatchRoutes.Route route, WatchResponse response) {
    List<WatchItem> items = new ArrayList<>(response.getEventsCount() + 1);
    List<Event> events = response.getEventsList();
    for (int i = 0; i < events.size(); i++) {
      Event event = events.get(i);
      int partition = event.getPartition();
      Invariants.check(route.covers(partition), "event of partition %d not asked for", partition);
      if (!event.getFromSnapshot()) {
        if (skipAsDelivered(event)) {
          continue;
        }
        long seen = receivedCursor.revision(partition).orElse(-1);
        Invariants.check(
            event.getRevision() > seen,
            "event %d:%d/%d at or below the cursor's %d",
            partition,
            event.getRevision(),
            event.getOrdinal(),
            seen);
        // A revision too large for one response ends a response early; that response's cursor
        // then stays before the revision.
        boolean lastOfRevision =
            i + 1 == events.size()
                ? response.getCursor().getRevisionsOrDefault(partition, Long.MAX_VALUE)
                    >= event.getRevision()
                : events.get(i + 1).getPartition() != partition
                    || events.get(i + 1).getRevision() != event.getRevision();
        if (lastOfRevision) {
          receivedCursor = receivedCursor.with(partition, event.getRevision());
        }
      }
      items.add(WatchEvent.of(event, receivedCursor));
    }
    Set<Integer> snapshotting = new HashSet<>(response.getSnapshotInProgressList());
    WatchCursor before = receivedCursor;
    response
        .getCursor()
        .getRevisionsMap()
        .forEach((partition, revision) -> {
          if (route.covers(partition) && !snapshotting.contains(partition)) {
            long seen = receivedCursor.revision(partition).orElse(-1);
            Invariants.check(
                revision >= seen,
                "cursor of partition %d went back to %d from %d",
                partition,
                revision,
                seen);
            receivedCursor = receivedCursor.with(partition, revision);
          }
        });
    if (response.getEventsCount() == 0
        || !before.equals(receivedCursor)
        || response.getResolvedCount() > 0) {
      items.add(new WatchProgress(receivedCursor, response.getResolvedMap(), snapshotting));
    }
    return items;
  }

  /** Whether a resumed stream re-sends an event of a revision whose start was handed over. */
  private boolean skipAsDelivered(Event event) {
    long[] skip = resumeSkip.get(event.getPartition());
    if (skip == null) {
      return false;
    }
    if (event.getRevision() == skip[0] && event.getOrdinal() <= skip[1]) {
      return true;
    }
    resumeSkip.remove(event.getPartition());
    return false;
  }

  private void onClose(Stream stream, Status status, Metadata trailers) {
    long delayNanos = closed(stream, status, trailers);
    afterChange();
    if (delayNanos < 0) {
      return;
    }
    int expected = currentGeneration();
    try {
      scheduler.schedule(
          () -> router.refresh().whenComplete((map, error) -> open(map, expected)),
          delayNanos,
          TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      synchronized (this) {
        fail(new UnavailableException("watch ended: the client is closed", e));
      }
      afterChange();
    }
  }

  /** Handles the end of a stream; the delay before resuming, or -1 when not resuming. */
  private long closed(Stream stream, Status status, Metadata trailers) {
    synchronized (this) {
      if (done || stream.generation != generation) {
        return -1;
      }
      CallFailure failure =
          CallFailure.classify(status.asRuntimeException(trailers), stream.route.address());
      String operation = query + " on " + stream.route.address();
      if (status.getCode() == Status.Code.FAILED_PRECONDITION
          && (failure.detail().getReason() == ErrorDetail.Reason.COMPACTED
              || stream.compacted != null)) {
        fail(compacted(stream, failure, operation));
        return -1;
      }
      // A node that holds none of the partitions asked for (the map was stale) names no reason in
      // its error yet, only its words; the next attempt refreshes the map and goes elsewhere.
      boolean misrouted =
          status.getCode() == Status.Code.FAILED_PRECONDITION
              && status.getDescription() != null
              && status.getDescription().contains("holds no replica");
      boolean retryable =
          status.isOk()
              || misrouted
              || failure.kind().retryable
              || failure.kind() == CallFailure.Kind.SERVER_ERROR
              || failure.kind() == CallFailure.Kind.CANCELLED;
      if (!retryable) {
        fail(failure.toException(false, false, false, operation));
        return -1;
      }
      long now = nanoClock.getAsLong();
      if (failingSinceNanos < 0) {
        failingSinceNanos = now;
      }
      if (now - failingSinceNanos > query.resumeTimeout().toNanos()) {
        fail(failure.toException(false, false, true, operation + " (resume timeout passed)"));
        return -1;
      }
      log.log(
          System.Logger.Level.DEBUG,
          "watch stream to {0} ended ({1}); resuming after {2}",
          stream.route.address(),
          status,
          deliveredCursor);
      avoid.add(stream.route.address());
      long delayNanos = backoff.delayNanos(retryIndex++);
      restartLocked();
      return delayNanos;
    }
  }

  /** Drops everything not handed over and moves to a new generation. Caller holds the lock. */
  private void restartLocked() {
    generation++;
    restarts++;
    List<Stream> toStop = new ArrayList<>(streamsToStop);
    toStop.addAll(streams);
    streamsToStop = toStop;
    streams = List.of();
    queue.clear();
    responsesQueued = 0;
    responsesOwed = 0;
    receivedCursor = deliveredCursor;
    resumeSkip.clear();
    deliveredMidRevision.forEach(
        (partition, position) -> resumeSkip.put(partition, position.clone()));
  }

  private WatchCompactedException compacted(Stream stream, CallFailure failure, String operation) {
    ErrorDetail detail = failure.detail();
    Map<Integer, Long> oldest = new HashMap<>();
    int partition = detail.getPartition();
    if (stream.compacted != null) {
      oldest.putAll(stream.compacted.getOldestRetainedMap());
      ErrorDetail inResponse = stream.compacted.getCompacted();
      partition = inResponse.getPartition();
      oldest.putIfAbsent(partition, inResponse.getOldestRetainedRevision());
    } else {
      oldest.put(partition, detail.getOldestRetainedRevision());
    }
    return new WatchCompactedException(
        operation
            + " cannot continue: partition "
            + partition
            + " no longer retains the changes after the cursor "
            + deliveredCursor
            + " (oldest retained: "
            + oldest
            + "); restart from a snapshot, or watch with on-compacted SNAPSHOT",
        partition,
        oldest,
        failure.status().asRuntimeException());
  }

  /** Ends the subscription with {@code error} after the queued items. Caller holds the lock. */
  private void fail(RingKvException error) {
    if (terminal != null || done) {
      return;
    }
    terminal = error;
    generation++;
    List<Stream> toStop = new ArrayList<>(streamsToStop);
    toStop.addAll(streams);
    streamsToStop = toStop;
    streams = List.of();
  }

  private synchronized List<Stream> takeStreamsToStop() {
    List<Stream> result = streamsToStop;
    streamsToStop = List.of();
    return result;
  }

  private void stopStreams() {
    List<Stream> toStop;
    ScheduledFuture<?> timer;
    synchronized (this) {
      generation++;
      toStop = new ArrayList<>(streams);
      toStop.addAll(streamsToStop);
      streams = List.of();
      streamsToStop = List.of();
      timer = watchdog;
    }
    if (timer != null) {
      timer.cancel(false);
    }
    stopStreamsOf(toStop);
  }

  private static void stopStreamsOf(List<Stream> toStop) {
    for (Stream stream : toStop) {
      if (stream.call != null) {
        stream.call.cancel("watch restarted or cancelled", null);
      }
    }
  }

  /** Treats a stream that owes a response and stays silent past the idle timeout as failed. */
  private void checkIdle() {
    Stream silent = null;
    synchronized (this) {
      long now = nanoClock.getAsLong();
      for (Stream stream : streams) {
        if (stream.owed > 0 && now - stream.lastActivityNanos > idleTimeoutNanos) {
          silent = stream;
          break;
        }
      }
    }
    if (silent != null) {
      onClose(
          silent,
          Status.UNAVAILABLE.withDescription(
              "no response within the idle timeout of "
                  + TimeUnit.NANOSECONDS.toMillis(idleTimeoutNanos)
                  + " ms"),
          new Metadata());
    }
  }

  // ---- delivery ----

  /** Hands queued items to the subscriber while it has demand; one thread at a time. */
  private void drain() {
    synchronized (this) {
      if (draining) {
        missed = true;
        return;
      }
      draining = true;
    }
    while (true) {
      WatchItem next = null;
      RingKvException error = null;
      synchronized (this) {
        if (done) {
          draining = false;
          return;
        }
        if (demand > 0 && !queue.isEmpty()) {
          Pending pending = queue.poll();
          demand--;
          if (pending.endsResponse()) {
            responsesQueued--;
          }
          next = pending.item();
          handedOver(next);
        } else if (queue.isEmpty() && terminal != null) {
          error = terminal;
          done = true;
        } else if (missed) {
          missed = false;
          continue;
        } else {
          draining = false;
          break;
        }
      }
      if (error != null) {
        stopStreams();
        subscriber.onError(error);
        return;
      }
      try {
        subscriber.onNext(next);
      } catch (RuntimeException e) {
        // Rule 2.13: a throwing subscriber is cancelled.
        log.log(System.Logger.Level.WARNING, "watch subscriber threw; cancelling the watch", e);
        cancel();
        synchronized (this) {
          draining = false;
        }
        return;
      }
      pump();
    }
  }

  /** Records what the subscriber now holds. Caller holds the lock. */
  private void handedOver(WatchItem item) {
    if (item instanceof WatchEvent event && !event.fromSnapshot()) {
      long cursorRevision = event.cursor().revision(event.partition()).orElse(-1);
      if (cursorRevision < event.revision()) {
        deliveredMidRevision.put(event.partition(), new long[] {event.revision(), event.ordinal()});
      } else {
        deliveredMidRevision.remove(event.partition());
      }
    }
    deliveredCursor = item.cursor();
  }

  /** One gRPC stream of the watch. */
  private final class Stream extends ClientCall.Listener<WatchResponse> {
    final int generation;
    final WatchRoutes.Route route;
    ClientCall<WatchRequest, WatchResponse> call;
    boolean started;
    int owed;
    long lastActivityNanos;
    WatchResponse compacted;

    Stream(int generation, WatchRoutes.Route route) {
      this.generation = generation;
      this.route = route;
    }

    void begin(WatchCursor after) {
      ClientCall<WatchRequest, WatchResponse> newCall =
          channels
              .channel(route.address())
              .newCall(WatchGrpc.getWatchMethod(), CallOptions.DEFAULT);
      synchronized (WatchSubscription.this) {
        call = newCall;
      }
      newCall.start(this, new Metadata());
      newCall.sendMessage(query.toRequest(after, route.partitions()));
      newCall.halfClose();
      boolean stale;
      synchronized (WatchSubscription.this) {
        started = true;
        stale = done || generation != WatchSubscription.this.generation;
      }
      if (stale) { // cancelled or restarted while this stream was being opened
        newCall.cancel("watch restarted or cancelled", null);
      }
    }

    @Override
    public void onMessage(WatchResponse message) {
      onResponse(this, message);
    }

    @Override
    public void onClose(Status status, Metadata trailers) {
      WatchSubscription.this.onClose(this, status, trailers);
    }
  }
}
