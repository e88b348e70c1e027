package io.ringkv.storage;

import io.ringkv.raft.ConfState;
import io.ringkv.raft.Invariants;
import java.util.List;
import java.util.Map;

/**
 * What applying committed entries changes in one partition, written atomically (one WriteBatch):
 * the user mutations, the change records derived from them, the client sessions, and the applied
 * state.
 *
 * @param appliedIndex the last log index this batch applies
 * @param appliedTerm the term of that entry
 * @param confState the configuration as of {@code appliedIndex}, or null if unchanged
 * @param timestampMillis the time stamped on change records whose revision has no own time
 * @param mutations the changes to user keys, in log order
 * @param sessions client session records to save
 * @param timestampMillisByRevision the time of each revision's entry (the proposer's time carried
 *     in the command), so a change record's time depends on its entry alone, not on the batching
 * @param hlcLogicalByRevision the logical counter of each revision's hybrid logical clock time
 *     (absent: 0)
 */
public record ApplyBatch(
    long appliedIndex,
    long appliedTerm,
    ConfState confState,
    long timestampMillis,
    List<Mutation> mutations,
    List<SessionRecord> sessions,
    Map<Long, Long> timestampMillisByRevision,
    Map<Long, Integer> hlcLogicalByRevision) {
  public ApplyBatch {
    hlcLogicalByRevision = Map.copyOf(hlcLogicalByRevision);
    mutations = List.copyOf(mutations);
    sessions = List.copyOf(sessions);
    timestampMillisByRevision = Map.copyOf(timestampMillisByRevision);
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

  /** A batch whose change records all carry {@code timestampMillis}. */
  public ApplyBatch(
      long appliedIndex,
      long appliedTerm,
      ConfState confState,
      long timestampMillis,
      List<Mutation> mutations,
      List<SessionRecord> sessions) {
    this(
        appliedIndex,
        appliedTerm,
        confState,
        timestampMillis,
        mutations,
        sessions,
        Map.of(),
        Map.of());
  }

  /** The time to stamp on the change records of {@code revision}. */
  public long timestampMillisOf(long revision) {
    return timestampMillisByRevision.getOrDefault(revision, timestampMillis);
  }

  /** The logical counter to stamp on the change records of {@code revision}. */
  public int hlcLogicalOf(long revision) {
    return hlcLogicalByRevision.getOrDefault(revision, 0);
  }

  /** Mutations only, no session records or configuration change. */
  public static ApplyBatch of(
      long appliedIndex, long appliedTerm, long timestampMillis, List<Mutation> mutations) {
    return new ApplyBatch(appliedIndex, appliedTerm, null, timestampMillis, mutations, List.of());
  }
}
