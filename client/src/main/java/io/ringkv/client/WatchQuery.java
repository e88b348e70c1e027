package io.ringkv.client;

import com.google.protobuf.ByteString;
import io.ringkv.proto.v1.OnCompacted.Action;
import io.ringkv.proto.v1.WatchRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Collection;

/**
 * What to watch and from where: one key, a prefix or everything; starting now, from the oldest
 * retained event, from a snapshot, or from a cursor. Immutable; each {@code with...} returns a
 * copy.
 *
 * <pre>{@code
 * WatchQuery query = WatchQuery.prefix("orders/").fromCursor(saved, WatchQuery.Start.SNAPSHOT)
 *     .withPrevKv(true).withOnCompacted(WatchQuery.OnCompacted.SNAPSHOT);
 * }</pre>
 */
public final class WatchQuery {
  /** Buffered responses per watch unless {@link #withResponsesBufferedMax} says. */
  public static final int RESPONSES_BUFFERED_DEFAULT = 8;

  public static final int RESPONSES_BUFFERED_MAX = 1024;

  /** How long a watch keeps trying to resume before it fails, unless said otherwise. */
  public static final Duration RESUME_TIMEOUT_DEFAULT = Duration.ofSeconds(60);

  /**
   * A stream that owes an answer (the client asked for one) and sends nothing for this long is
   * treated as dead and resumed elsewhere; a node sends progress at least every
   * watch-progress-interval-millis, so this must be well above it.
   */
  public static final Duration IDLE_TIMEOUT_DEFAULT = Duration.ofSeconds(15);

  /** Where partitions absent from the cursor start. */
  public enum Start {
    /** Only changes applied after the watch is established. */
    NOW,
    /** From the oldest event each partition still retains. */
    OLDEST,
    /** A consistent scan of the current state, as events, then the changes after that scan. */
    SNAPSHOT
  }

  /** What happens when a partition's position is older than its retention. */
  public enum OnCompacted {
    /** The watch fails with {@link WatchCompactedException}. */
    FAIL,
    /** The node continues that partition from a snapshot scan: the watch never dead-ends. */
    SNAPSHOT
  }

  enum Selector {
    KEY,
    PREFIX,
    ALL
  }

  // Not final only so that the with... methods can fill in a fresh copy; never changed after.
  private Selector selector;
  private byte[] selectorBytes;
  private Start start = Start.NOW;
  private WatchCursor cursor = WatchCursor.empty();
  private boolean prevKv;
  private Consistency consistency = Consistency.LINEARIZABLE;
  private OnCompacted onCompacted = OnCompacted.FAIL;
  private Duration progressInterval = Duration.ZERO;
  private Duration resumeTimeout = RESUME_TIMEOUT_DEFAULT;
  private Duration idleTimeout = IDLE_TIMEOUT_DEFAULT;
  private int responsesBufferedMax = RESPONSES_BUFFERED_DEFAULT;

  private WatchQuery(Selector selector, byte[] selectorBytes) {
    this.selector = selector;
    this.selectorBytes = selectorBytes;
  }

  private WatchQuery copy() {
    WatchQuery copy = new WatchQuery(selector, selectorBytes);
    copy.start = start;
    copy.cursor = cursor;
    copy.prevKv = prevKv;
    copy.consistency = consistency;
    copy.onCompacted = onCompacted;
    copy.progressInterval = progressInterval;
    copy.resumeTimeout = resumeTimeout;
    copy.idleTimeout = idleTimeout;
    copy.responsesBufferedMax = responsesBufferedMax;
    return copy;
  }

  /** Changes of one key. */
  public static WatchQuery key(byte[] key) {
    RingKvClient.checkKey(key);
    return new WatchQuery(Selector.KEY, key.clone());
  }

  public static WatchQuery key(String key) {
    return key(RingKvClient.utf8(key));
  }

  /** Changes of every key starting with {@code prefix} (empty: every key). */
  public static WatchQuery prefix(byte[] prefix) {
    if (prefix == null) {
      throw new IllegalArgumentException("prefix must not be null");
    }
    return prefix.length == 0 ? all() : new WatchQuery(Selector.PREFIX, prefix.clone());
  }

  public static WatchQuery prefix(String prefix) {
    return prefix(RingKvClient.utf8(prefix));
  }

  /** Changes of every key. */
  public static WatchQuery all() {
    return new WatchQuery(Selector.ALL, new byte[0]);
  }

  private WatchQuery starting(Start newStart, WatchCursor newCursor) {
    WatchQuery copy = copy();
    copy.start = newStart;
    copy.cursor = newCursor;
    return copy;
  }

  /** Start with changes applied after the watch is established (the default). */
  public WatchQuery fromNow() {
    return starting(Start.NOW, WatchCursor.empty());
  }

  /** Start from the oldest retained change of each partition. */
  public WatchQuery fromOldest() {
    return starting(Start.OLDEST, WatchCursor.empty());
  }

  /** Start with a snapshot of the selected keys (as events), then their changes. */
  public WatchQuery fromSnapshot() {
    return starting(Start.SNAPSHOT, WatchCursor.empty());
  }

  /**
   * Resume right after {@code cursor}; partitions it does not list start as {@code others} says. To
   * resume a watch, pass the cursor of the last item processed and the start the watch had: a
   * partition that was still in its snapshot scan is absent from that cursor and scans again.
   */
  public WatchQuery fromCursor(WatchCursor cursor, Start others) {
    if (cursor == null || others == null) {
      throw new IllegalArgumentException("cursor and start must not be null");
    }
    return starting(others, cursor);
  }

  /** Include each event's previous value (default false). */
  public WatchQuery withPrevKv(boolean prevKv) {
    WatchQuery copy = copy();
    copy.prevKv = prevKv;
    return copy;
  }

  /**
   * LINEARIZABLE (default): a serving replica first catches up to the leader's commit index at the
   * start. SERIALIZABLE: any replica serves what it has applied, even when it lags.
   */
  public WatchQuery withConsistency(Consistency consistency) {
    if (consistency == null) {
      throw new IllegalArgumentException("consistency must not be null");
    }
    WatchQuery copy = copy();
    copy.consistency = consistency;
    return copy;
  }

  /** What to do when a position is older than retention (default FAIL). */
  public WatchQuery withOnCompacted(OnCompacted onCompacted) {
    if (onCompacted == null) {
      throw new IllegalArgumentException("on-compacted action must not be null");
    }
    WatchQuery copy = copy();
    copy.onCompacted = onCompacted;
    return copy;
  }

  /** Interval of progress reports on an idle stream; zero (default) means the node's setting. */
  public WatchQuery withProgressInterval(Duration interval) {
    if (interval == null || interval.isNegative() || interval.toMillis() > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          "progress interval must be zero or a positive number of milliseconds, got " + interval);
    }
    WatchQuery copy = copy();
    copy.progressInterval = interval;
    return copy;
  }

  /** How long the watch keeps trying to resume after a failure before it fails (default 60 s). */
  public WatchQuery withResumeTimeout(Duration timeout) {
    requirePositive("resume timeout", timeout);
    WatchQuery copy = copy();
    copy.resumeTimeout = timeout;
    return copy;
  }

  /**
   * Silence after which a stream that owes a response is resumed elsewhere (default 15 s; the watch
   * uses at least three of its progress intervals).
   */
  public WatchQuery withIdleTimeout(Duration timeout) {
    requirePositive("idle timeout", timeout);
    WatchQuery copy = copy();
    copy.idleTimeout = timeout;
    return copy;
  }

  /**
   * Responses the client holds for a subscriber that has not asked for them yet (default 8, at most
   * 1024): the client's memory per watch is this many responses, each bounded by the node's events
   * per response.
   */
  public WatchQuery withResponsesBufferedMax(int responses) {
    if (responses < 1 || responses > RESPONSES_BUFFERED_MAX) {
      throw new IllegalArgumentException(
          "responses buffered max must be in 1.." + RESPONSES_BUFFERED_MAX + ", got " + responses);
    }
    WatchQuery copy = copy();
    copy.responsesBufferedMax = responses;
    return copy;
  }

  private static void requirePositive(String name, Duration duration) {
    if (duration == null || duration.isNegative() || duration.isZero()) {
      throw new IllegalArgumentException(name + " must be a positive duration, got " + duration);
    }
  }

  Selector selector() {
    return selector;
  }

  /** The key, for a key query. */
  byte[] keyBytes() {
    Invariants.check(selector == Selector.KEY, "keyBytes of a %s query", selector);
    return selectorBytes;
  }

  public Start start() {
    return start;
  }

  public WatchCursor cursor() {
    return cursor;
  }

  public OnCompacted onCompacted() {
    return onCompacted;
  }

  Duration resumeTimeout() {
    return resumeTimeout;
  }

  Duration progressInterval() {
    return progressInterval;
  }

  Duration idleTimeout() {
    return idleTimeout;
  }

  int responsesBufferedMax() {
    return responsesBufferedMax;
  }

  /** The request of one stream: resume after {@code after}, covering {@code partitions}. */
  WatchRequest toRequest(WatchCursor after, Collection<Integer> partitions) {
    WatchRequest.Builder request =
        WatchRequest.newBuilder()
            .setStart(
                switch (start) {
                  case NOW -> WatchRequest.Start.NOW;
                  case OLDEST -> WatchRequest.Start.OLDEST;
                  case SNAPSHOT -> WatchRequest.Start.SNAPSHOT;
                })
            .setCursor(after.toProto())
            .setPrevKv(prevKv)
            .setConsistency(consistency.toProto())
            .setOnCompacted(onCompacted == OnCompacted.SNAPSHOT ? Action.SNAPSHOT : Action.FAIL)
            .setProgressIntervalMillis((int) progressInterval.toMillis())
            .addAllPartitions(partitions);
    switch (selector) {
      case KEY -> request.setKey(ByteString.copyFrom(selectorBytes));
      case PREFIX -> request.setPrefix(ByteString.copyFrom(selectorBytes));
      case ALL -> request.setAll(true);
    }
    return request.build();
  }

  @Override
  public String toString() {
    String what =
        switch (selector) {
          case KEY -> "key '" + new String(selectorBytes, StandardCharsets.UTF_8) + "'";
          case PREFIX -> "prefix '" + new String(selectorBytes, StandardCharsets.UTF_8) + "'";
          case ALL -> "all keys";
        };
    return "watch of " + what + " from " + start + (cursor.isEmpty() ? "" : " after " + cursor);
  }
}
