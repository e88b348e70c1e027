package io.ringkv.client;

/**
 * What a watch hands its subscriber: a change ({@link WatchEvent}) or a progress report ({@link
 * WatchProgress}). Both travel in the one ordered stream and count against the subscriber's demand,
 * because a progress report only means something after the events before it: its resolved revisions
 * promise that nothing at or below them is still to come. Both carry the cursor to resume from once
 * this item is processed.
 */
public sealed interface WatchItem permits WatchEvent, WatchProgress {
  /** Resume from this cursor to continue right after this item. */
  WatchCursor cursor();
}
