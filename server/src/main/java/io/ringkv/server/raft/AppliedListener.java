package io.ringkv.server.raft;

/**
 * Told on the apply thread, after the store wrote it, that a local replica's state (and its change
 * records) reached {@code appliedIndex}: by applying entries, or by installing a snapshot (then the
 * changefeed's floor moved up to the snapshot's index too). Must return at once: it runs between
 * two applies.
 */
@FunctionalInterface
public interface AppliedListener {
  AppliedListener NONE = (partition, appliedIndex) -> {};

  void applied(int partition, long appliedIndex);
}
