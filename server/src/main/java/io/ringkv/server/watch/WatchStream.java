package io.ringkv.server.watch;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.ringkv.proto.v1.ErrorDetail;
import io.ringkv.proto.v1.Event;
import io.ringkv.proto.v1.WatchCursor;
import io.ringkv.proto.v1.WatchResponse;
import io.ringkv.raft.Invariants;
import io.ringkv.server.KvErrors;
import io.ringkv.storage.ChangeRecord;
import io.ringkv.storage.ChangefeedCompactedException;
import io.ringkv.storage.KeyValue;
import io.ringkv.storage.PartitionReadView;
import io.ringkv.storage.ScanRange;
import io.ringkv.storage.StoredValue;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Watch call: its cursor per partition and the loop that turns change records into responses.
 *
 * <p>Design notes. Everything that touches the response observer runs in {@link #drain}, which the
 * hub's executor runs for at most one thread at a time per stream (a work-in-progress counter:
 * {@link #wake} from any thread submits a drain only when none is pending). A drain reads the
 * {@code changes} column family from the cursor on, only while the transport is ready for more
 * (gRPC flow control), one bounded response at a time, so a slow consumer is never read for beyond
 * one response, and later continues from its cursor at its own pace. A drain sends a bounded number
 * of responses, then yields the executor to other streams. Between drains the stream holds only its
 * cursors: no buffer, no iterator, no snapshot (except while a snapshot phase is running, which
 * holds one RocksDB snapshot).
 *
 * <p>Cursor rules: {@code cursors[i]} is the last revision of partition {@code partitions[i]} whose
 * events are all delivered (sent, or not selected). A read is cut at the replica's applied index
 * read before it, so everything at or below the new cursor was really read; when caught up the
 * cursor moves to the applied index even without events, which keeps an idle consumer's cursor
 * ahead of retention. Hence resolved equals the cursor for every partition in its tail.
 */
final class WatchStream {
  private static final Logger log = LoggerFactory.getLogger(WatchStream.class);

  /** Responses one drain sends before it yields the executor to other streams. */
  static final int RESPONSES_PER_TURN = 8;

  /** Reads of the changes column family one response may take (filtered-out records included). */
  static final int READS_PER_RESPONSE_MAX = 64;

  /** Bytes counted per snapshot pair beyond its key and value (revisions, tags). */
  static final int SNAPSHOT_PAIR_OVERHEAD_BYTES = 48;

  /** How long a linearizable start waits for the leader's commit index. */
  static final long START_WAIT_MILLIS = 10_000;

  private static final byte AWAIT_NOW = 0;
  private static final byte AWAIT_SNAPSHOT = 1;
  private static final byte SNAPSHOT = 2;
  private static final byte TAIL = 3;

  final long id;
  final int[] partitions;
  private final WatchHub hub;
  private final ServerCallStreamObserver<WatchResponse> observer;
  private final WatchSelector selector;
  private final boolean prevKv;
  private final boolean snapshotOnCompacted;
  private final long progressIntervalNanos;
  private final long[] cursors;
  private final byte[] phases;
  private final AtomicInteger wip = new AtomicInteger();
  private final AtomicInteger startsPending = new AtomicInteger();
  private volatile boolean cancelled;
  private volatile Status ending;
  private volatile long lastSentNanos;
  private volatile boolean progressRequested;
  private volatile boolean created;
  private boolean finished;
  private long eventsOffered;

  /**
   * A revision too large for one response (a transaction's events, with previous values, can be
   * twice the request limit) goes out in parts: the partition index, the revision and the ordinal
   * its next part starts at; -1 when none is split. Its cursor stays before the revision until the
   * last part, so a consumer resuming mid-revision gets the whole revision again and skips the
   * ordinals it already has.
   */
  private int splitIndex = -1;

  private long splitRevision;
  private int splitOrdinalNext;
  private long bufferedBytes;
  private int nextPartitionIndex;
  private SnapshotScan scan;

  /** Oldest retained revisions to report in the next response (snapshot fallbacks), or null. */
  private TreeMap<Integer, Long> oldestToReport;

  /** The snapshot phase of one partition: one consistent view, read page by page. */
  private static final class SnapshotScan implements AutoCloseable {
    final int index;
    final PartitionReadView view;
    final long appliedIndex;
    byte[] nextKey;

    SnapshotScan(int index, PartitionReadView view, byte[] firstKey) {
      this.index = index;
      this.view = view;
      this.appliedIndex = view.appliedState().index();
      this.nextKey = firstKey;
    }

    @Override
    public void close() {
      view.close();
    }
  }

  WatchStream(
      WatchHub hub, ServerCallStreamObserver<WatchResponse> observer, WatchPlan plan, long id) {
    this.id = id;
    this.hub = hub;
    this.observer = observer;
    this.selector = plan.selector();
    this.prevKv = plan.prevKv();
    this.snapshotOnCompacted = plan.snapshotOnCompacted();
    long intervalMillis =
        plan.progressIntervalMillis() > 0
            ? plan.progressIntervalMillis()
            : hub.limits.watchProgressIntervalMillis();
    this.progressIntervalNanos = TimeUnit.MILLISECONDS.toNanos(intervalMillis);
    this.partitions = plan.partitions();
    this.cursors = new long[partitions.length];
    this.phases = new byte[partitions.length];
  }

  /**
   * Fixes where each partition starts and begins serving (after the hub registered the stream). NOW
   * and SNAPSHOT wait, under linearizable consistency, until the local replica applied the leader's
   * commit index as of now; the first response (created) follows once every partition's start is
   * fixed.
   */
  void start(WatchPlan plan) {
    boolean wait = plan.linearizable();
    for (int i = 0; i < partitions.length; i++) {
      int partition = partitions[i];
      switch (plan.starts()[i]) {
        case CURSOR -> {
          cursors[i] = plan.cursorRevisions()[i];
          phases[i] = TAIL;
        }
        case OLDEST -> {
          cursors[i] = hub.replicas.changefeed(partition).oldestRetainedRevision() - 1;
          phases[i] = TAIL;
        }
        case NOW -> phases[i] = AWAIT_NOW;
        case SNAPSHOT -> phases[i] = AWAIT_SNAPSHOT;
      }
    }
    startsPending.set(1); // held until every wait below is issued
    for (int i = 0; i < partitions.length; i++) {
      if (phases[i] == AWAIT_NOW || phases[i] == AWAIT_SNAPSHOT) {
        if (wait) {
          awaitStart(i);
        } else {
          fixStart(i);
        }
      }
    }
    startsPending.decrementAndGet();
    wake();
  }

  private void awaitStart(int index) {
    startsPending.incrementAndGet();
    int partition = partitions[index];
    hub.replicas
        .awaitLeaderCommit(partition)
        .orTimeout(START_WAIT_MILLIS, TimeUnit.MILLISECONDS)
        .whenComplete((ignored, failure) -> {
          if (failure != null) {
            end(
                Status.UNAVAILABLE.withDescription(
                    "partition "
                        + partition
                        + ": this replica could not learn the leader's commit index to start"
                        + " the watch ("
                        + failure
                        + "); retry, or ask for SERIALIZABLE"));
          } else {
            fixStart(index);
          }
          startsPending.decrementAndGet();
          wake();
        });
  }

  /** Any thread, once per waiting partition, before startsPending reaches 0. */
  private void fixStart(int index) {
    if (phases[index] == AWAIT_NOW) {
      cursors[index] = hub.replicas.appliedIndex(partitions[index]);
      phases[index] = TAIL;
    } else {
      phases[index] = SNAPSHOT;
    }
  }

  /** Schedules a drain unless one is pending (any thread). */
  void wake() {
    if (wip.getAndIncrement() == 0 && !hub.execute(this::drain)) {
      wip.set(0);
    }
  }

  /** Client went away (call executor): the next drain releases what the stream holds. */
  void cancel() {
    cancelled = true;
    wake();
  }

  /** Ends the stream with {@code status} from the next drain (any thread). */
  void end(Status status) {
    if (ending == null) {
      ending = status;
    }
    wake();
  }

  void requestProgress() {
    progressRequested = true;
    wake();
  }

  boolean progressDue(long nowNanos) {
    return created && nowNanos - lastSentNanos >= progressIntervalNanos;
  }

  private void drain() {
    int missed = wip.get();
    while (true) {
      boolean more;
      try {
        more = turn();
      } catch (RuntimeException | Error e) {
        log.warn("watch {}: failed, ending the stream", id, e);
        finish(Status.UNAVAILABLE.withDescription("watch failed on this node: " + e));
        more = false;
      }
      if (more) {
        if (!hub.execute(this::drain)) {
          wip.set(0);
        }
        return;
      }
      missed = wip.addAndGet(-missed);
      if (missed == 0) {
        return;
      }
    }
  }

  /** One turn of the loop; true when it yielded with work left. Drain only. */
  private boolean turn() {
    if (finished) {
      return false;
    }
    if (cancelled) {
      finish(null);
      return false;
    }
    Status end = ending;
    if (end != null) {
      finish(end);
      return false;
    }
    if (startsPending.get() > 0) {
      return false;
    }
    if (!created) {
      if (!observer.isReady()) {
        return false;
      }
      send(state(WatchResponse.newBuilder().setCreated(true).setWatchId(id)).build());
      created = true;
    }
    int sent = 0;
    while (true) {
      if (!observer.isReady()) {
        return false; // the onReady handler wakes us
      }
      transportDrained();
      Batch batch = nextResponse();
      if (finished) {
        return false;
      }
      if (batch.response != null) {
        send(batch.response);
        sent++;
      } else if (!batch.backlog) {
        break;
      }
      if (sent >= RESPONSES_PER_TURN || (batch.response == null && batch.backlog)) {
        return true;
      }
    }
    if (progressRequested || progressDue(hub.nanoTime.getAsLong())) {
      progressRequested = false;
      send(state(WatchResponse.newBuilder()).build());
    }
    return false;
  }

  /** A response to send, or none; backlog: stopped at a read bound with more to read. */
  private record Batch(WatchResponse response, boolean backlog) {}

  private Batch nextResponse() {
    WatchResponse.Builder response = WatchResponse.newBuilder();
    Budget budget = new Budget(hub.limits.watchResponseEventsMax(), hub.responseBytesMax);
    boolean announce = false;
    if (scan != null || firstIndexIn(SNAPSHOT) >= 0) {
      announce = snapshotPage(response, budget);
    } else {
      boolean backlog = tail(response, budget);
      if (finished) {
        return new Batch(null, false);
      }
      if (response.getEventsCount() == 0 && oldestToReport == null) {
        return new Batch(null, backlog);
      }
    }
    if (oldestToReport != null) {
      response.putAllOldestRetained(oldestToReport);
      oldestToReport = null;
      announce = true;
    }
    if (response.getEventsCount() == 0 && !announce) {
      return new Batch(null, scan != null || firstIndexIn(SNAPSHOT) >= 0);
    }
    return new Batch(state(response).build(), false);
  }

  /** What a response may still take. */
  private static final class Budget {
    int events;
    long bytes;
    int reads = READS_PER_RESPONSE_MAX;

    Budget(int events, long bytes) {
      this.events = events;
      this.bytes = bytes;
    }

    boolean full() {
      return events <= 0 || bytes <= 0;
    }
  }

  /**
   * Reads the tails of the partitions, round robin; true when a bound stopped it with more possibly
   * left to read (also when filtered-out records used up the budget and nothing is to be sent).
   */
  private boolean tail(WatchResponse.Builder response, Budget budget) {
    int count = partitions.length;
    for (int k = 0; k < count && !budget.full(); k++) {
      int index = (nextPartitionIndex + k) % count;
      if (phases[index] != TAIL) {
        continue;
      }
      while (!budget.full()) {
        long applied = hub.replicas.appliedIndex(partitions[index]);
        if (cursors[index] >= applied) {
          break;
        }
        if (budget.reads-- <= 0) {
          return true;
        }
        if (!readTail(index, applied, response, budget)) {
          break;
        }
      }
      if (finished) {
        return false;
      }
    }
    nextPartitionIndex = (nextPartitionIndex + 1) % count;
    return budget.full();
  }

  /** One read of one partition's changes after its cursor; false when it cannot continue. */
  private boolean readTail(int index, long applied, WatchResponse.Builder response, Budget budget) {
    int partition = partitions[index];
    List<ChangeRecord> records;
    try {
      records =
          hub.replicas
              .changefeed(partition)
              .read(cursors[index] + 1, Math.max(1, budget.events), Math.max(1, budget.bytes));
    } catch (ChangefeedCompactedException e) {
      compacted(index, e.oldestRetainedRevision(), response);
      return false;
    }
    long last = cursors[index];
    long complete = cursors[index];
    boolean pastApplied = false;
    for (ChangeRecord record : records) {
      if (record.revision() > applied) {
        pastApplied = true;
        break;
      }
      Invariants.check(
          record.revision() > cursors[index],
          "watch %d: partition %d read revision %d at cursor %d",
          id,
          partition,
          record.revision(),
          cursors[index]);
      if (record.revision() != last) {
        complete = last;
      }
      boolean sentBefore =
          index == splitIndex
              && record.revision() == splitRevision
              && record.ordinal() < splitOrdinalNext;
      budget.events--;
      if (!sentBefore && selector.matches(record.key())) {
        Event event = WatchEvents.change(partition, record, prevKv);
        if (response.getEventsCount() > 0 && event.getSerializedSize() > budget.bytes) {
          // The response is full inside this revision: send what it holds, continue here next.
          splitIndex = index;
          splitRevision = record.revision();
          splitOrdinalNext = record.ordinal();
          cursors[index] = complete;
          budget.bytes = 0;
          return true;
        }
        offer(response, event, budget);
      }
      last = record.revision();
    }
    if (index == splitIndex && last >= splitRevision) {
      splitIndex = -1;
    }
    // Everything up to the applied index was readable; a read that ended early by a bound ends at
    // a revision boundary, so its last revision is complete.
    boolean reachedEnd = pastApplied || records.isEmpty() || last == applied;
    cursors[index] = reachedEnd ? applied : last;
    return true;
  }

  private void offer(WatchResponse.Builder response, Event event, Budget budget) {
    budget.bytes -= event.getSerializedSize();
    long dropOneIn = hub.limits.debugWatchDropOneIn();
    if (dropOneIn > 0 && ++eventsOffered % dropOneIn == 0) {
      hub.metrics.debugDroppedEvents.increment();
      return;
    }
    response.addEvents(event);
  }

  /**
   * A partition's cursor is older than its retention: continue it from a snapshot if the request
   * asked for that, else end the stream with COMPACTED naming every partition that is behind.
   */
  private void compacted(int index, long oldestRetained, WatchResponse.Builder response) {
    int partition = partitions[index];
    if (snapshotOnCompacted) {
      hub.metrics.snapshotFallbacks.increment();
      phases[index] = SNAPSHOT;
      if (oldestToReport == null) {
        oldestToReport = new TreeMap<>();
      }
      oldestToReport.put(partition, oldestRetained);
      return;
    }
    TreeMap<Integer, Long> behind = new TreeMap<>();
    behind.put(partition, oldestRetained);
    for (int i = 0; i < partitions.length; i++) {
      if (phases[i] == TAIL && i != index) {
        long oldest = hub.replicas.changefeed(partitions[i]).oldestRetainedRevision();
        if (cursors[i] + 1 < oldest) {
          behind.put(partitions[i], oldest);
        }
      }
    }
    ErrorDetail detail =
        ErrorDetail.newBuilder()
            .setReason(ErrorDetail.Reason.COMPACTED)
            .setPartition(partition)
            .setOldestRetainedRevision(oldestRetained)
            .build();
    // Events already gathered for this response go first: the cursor below counts them.
    response.setCompacted(detail).putAllOldestRetained(behind);
    observer.onNext(state(response).build());
    hub.metrics.compacted.increment();
    StatusRuntimeException error =
        KvErrors.of(
            Status.Code.FAILED_PRECONDITION,
            "partition "
                + partition
                + ": the watch cursor "
                + cursors[index]
                + " is older than retention (oldest retained revision "
                + oldestRetained
                + "); restart from a snapshot (start SNAPSHOT) or ask for on_compacted SNAPSHOT",
            detail);
    finish(error.getStatus(), error.getTrailers());
  }

  /** One page of the running snapshot phase; true when the response must be sent. */
  private boolean snapshotPage(WatchResponse.Builder response, Budget budget) {
    if (scan == null) {
      int index = firstIndexIn(SNAPSHOT);
      scan =
          new SnapshotScan(
              index, hub.replicas.readView(partitions[index]), selector.range().start());
    }
    int partition = partitions[scan.index];
    boolean done;
    if (selector instanceof WatchSelector.Key key) {
      Optional<StoredValue> value = scan.view.get(key.key());
      value.ifPresent(v ->
          offer(response, WatchEvents.snapshot(partition, new KeyValue(key.key(), v)), budget));
      done = true;
    } else {
      ScanRange range = selector.range();
      int limit = Math.max(1, budget.events);
      long bytesMax = Math.max(1, budget.bytes);
      List<KeyValue> page =
          scan.view.scan(
              ScanRange.between(scan.nextKey, range.end()),
              limit,
              bytesMax,
              SNAPSHOT_PAIR_OVERHEAD_BYTES);
      long sizeBytes = 0;
      for (KeyValue pair : page) {
        sizeBytes += pair.key().length + pair.value().value().length + SNAPSHOT_PAIR_OVERHEAD_BYTES;
        offer(response, WatchEvents.snapshot(partition, pair), budget);
      }
      done = page.size() < limit && sizeBytes <= bytesMax;
      if (!done) {
        byte[] lastKey = page.getLast().key();
        scan.nextKey = Arrays.copyOf(lastKey, lastKey.length + 1); // the next key after it
      }
    }
    if (!done) {
      return true;
    }
    cursors[scan.index] = scan.appliedIndex;
    phases[scan.index] = TAIL;
    scan.close();
    scan = null;
    return true;
  }

  private int firstIndexIn(byte phase) {
    for (int i = 0; i < phases.length; i++) {
      if (phases[i] == phase) {
        return i;
      }
    }
    return -1;
  }

  /** Adds the cursor, resolved revisions and the partitions still in their snapshot phase. */
  private WatchResponse.Builder state(WatchResponse.Builder response) {
    WatchCursor.Builder cursor = WatchCursor.newBuilder();
    for (int i = 0; i < partitions.length; i++) {
      if (phases[i] == TAIL) {
        cursor.putRevisions(partitions[i], cursors[i]);
        response.putResolved(partitions[i], cursors[i]);
      } else {
        response.addSnapshotInProgress(partitions[i]);
      }
    }
    return response.setCursor(cursor);
  }

  private void send(WatchResponse response) {
    observer.onNext(response);
    lastSentNanos = hub.nanoTime.getAsLong();
    hub.metrics.responsesSent.increment();
    hub.metrics.eventsSent.increment(response.getEventsCount());
    if (!observer.isReady()) {
      // The transport holds this response until the consumer reads it: count it as buffered.
      bufferedBytes = response.getSerializedSize();
      hub.metrics.bufferedBytes.addAndGet(bufferedBytes);
    }
  }

  private void transportDrained() {
    if (bufferedBytes > 0) {
      hub.metrics.bufferedBytes.addAndGet(-bufferedBytes);
      bufferedBytes = 0;
    }
  }

  private void finish(Status status) {
    finish(status, null);
  }

  private void finish(Status status, io.grpc.Metadata trailers) {
    if (finished) {
      return;
    }
    finished = true;
    transportDrained();
    if (scan != null) {
      scan.close();
      scan = null;
    }
    hub.unregister(this);
    if (status != null && !cancelled) {
      try {
        observer.onError(status.asRuntimeException(trailers));
      } catch (RuntimeException e) {
        log.debug("watch {}: could not end the call", id, e);
      }
    }
  }
}
