package io.ringkv.client;

import java.util.Map;
import java.util.Set;

/**
 * A progress report of a watch: no new event, but the cursor moved on (so an idle consumer's stored
 * cursor keeps up with retention), and per partition a resolved revision: every event at or below
 * it has been handed over already. A consumer that has processed everything up to this item and
 * sees {@code resolved[p] >= R} for every partition holds every change up to those revisions.
 *
 * @param cursor where to resume after this item
 * @param resolved per partition, no event at or below this revision remains to be delivered
 * @param snapshotInProgress partitions whose snapshot scan is still running; the cursor keeps their
 *     position from before the scan, so a watch resumed now scans them again
 */
public record WatchProgress(
    WatchCursor cursor, Map<Integer, Long> resolved, Set<Integer> snapshotInProgress)
    implements WatchItem {
  public WatchProgress {
    resolved = Map.copyOf(resolved);
    snapshotInProgress = Set.copyOf(snapshotInProgress);
  }
}
