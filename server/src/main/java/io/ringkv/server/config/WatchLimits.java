package io.ringkv.server.config;

/**
 * Bounds and timing of the changefeed streams (Watch) one node serves.
 *
 * @param watchesMax streams open at once on this node; one more is refused RESOURCE_EXHAUSTED
 * @param watchBufferBytesMax change bytes one stream reads ahead and holds for its consumer at a
 *     time; a consumer slower than the writes stops being read for at this bound and later reads
 *     the changes column family at its own pace (a single revision larger than this is still sent
 *     whole: a revision is never split)
 * @param watchResponseEventsMax events in one response (a revision is never split, so a large
 *     transaction may exceed it by its own events)
 * @param watchProgressIntervalMillis an otherwise idle stream gets a progress response (cursor and
 *     resolved revisions) this often, unless the request asks for another interval
 * @param debugWatchDropOneIn TEST-ONLY planted bug: every N-th event a stream would deliver is
 *     dropped (0 = off); exists so the Jepsen changefeed checker can show it catches a gap
 */
public record WatchLimits(
    int watchesMax,
    long watchBufferBytesMax,
    int watchResponseEventsMax,
    long watchProgressIntervalMillis,
    long debugWatchDropOneIn) {
  public static final int WATCHES_MAX_DEFAULT = 20_000;
  public static final long WATCH_BUFFER_BYTES_MAX_DEFAULT = 1024 * 1024;
  public static final int WATCH_RESPONSE_EVENTS_MAX_DEFAULT = 1000;

  /**
   * One second: often enough that a consumer tells "no change" from "behind" within a second and an
   * idle cursor keeps far ahead of retention (hours), rare enough that 10,000 idle streams cost
   * 10,000 small responses a second.
   */
  public static final long WATCH_PROGRESS_INTERVAL_MILLIS_DEFAULT = 1000;

  public static final WatchLimits DEFAULTS =
      new WatchLimits(
          WATCHES_MAX_DEFAULT,
          WATCH_BUFFER_BYTES_MAX_DEFAULT,
          WATCH_RESPONSE_EVENTS_MAX_DEFAULT,
          WATCH_PROGRESS_INTERVAL_MILLIS_DEFAULT,
          0);

  public WatchLimits {
    if (watchesMax < 1) {
      throw new ConfigException("watches-max", "must be >= 1, got " + watchesMax);
    }
    if (watchBufferBytesMax < 1 || watchResponseEventsMax < 1) {
      throw new ConfigException(
          "watch-buffer-bytes-max", "watch buffer and response bounds must be >= 1");
    }
    if (watchProgressIntervalMillis < 1) {
      throw new ConfigException(
          "watch-progress-interval-millis", "must be >= 1, got " + watchProgressIntervalMillis);
    }
    if (debugWatchDropOneIn < 0) {
      throw new ConfigException(
          "debug-watch-drop-one-in", "must be >= 0, got " + debugWatchDropOneIn);
    }
  }
}
