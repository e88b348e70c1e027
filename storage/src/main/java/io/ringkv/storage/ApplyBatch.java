package io.ringkv.storage;

import io.ringkv.raft.ConfState;
import io.ringkv.raft.Invariants;
import java.util.List;

/**
 * What applying committed entries changes in one partition, written atomically (one WriteBatch):
 * the user mutations, the change records derived from them, the client sessions, and the applied
 * state.
 *
 * @param appliedIndex the last log index this batch applies
 * @param appliedTerm the term of that entry
 * @param confState the configuration as of {@code appliedIndex}, or null if unchanged
 * @param timestampMillis the time stamped on the change records (e.g. the entry's HLC wall time)
 * @param mutations the changes to user keys, in log order
 * @param sessions client session records to save
 */
public record ApplyBatch(
    long appliedIndex,
    long appliedTerm,
    ConfState confState,
    long timestampMillis,
    List<Mutation> mutations,
    List<SessionRecord> sessions) {
  public ApplyBatch {
    mutations = List.copyOf(mutations);
    sessions = List.copyOf(sessions);
    Invariants.check(appliedIndex >= 1 && appliedTerm >= 1, "applied index/term must be >= 1");
    long previous = 0;
    for (Mutation mutation : mutations) {
      Invariants.check(
          mutation.revision() >= previous && mutation.revision() <= appliedIndex,
          "mutation revision %d out of order or past applied index %d",
          mutation.revision(),
          appliedIndex);
      previous = mutation.revision();
    }
  }

  /** Mutations only, no session records or configuration change. */
  public static ApplyBatch of(
      long appliedIndex, long appliedTerm, long timestampMillis, List<Mutation> mutations) {
    return new ApplyBatch(appliedIndex, appliedTerm, null, timestampMillis, mutations, List.of());
  }
}
