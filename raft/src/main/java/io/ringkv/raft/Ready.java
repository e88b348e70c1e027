package io.ringkv.raft;

import java.util.List;
import java.util.Optional;

/**
 * Work the core hands to the application. Handle the fields in this order, then call {@link
 * RawNode#advance(Ready)} with this same object:
 *
 * <ol>
 *   <li>{@code messages} may be sent at any time, even before anything is persisted (they are the
 *       leader's replication traffic and forwarded requests; a leader counts its own entries only
 *       once persisted);
 *   <li>{@code snapshot}, if not empty: install it in storage ({@code applySnapshot}) and restore
 *       the state machine from it;
 *   <li>{@code entries}: append to storage, replacing any suffix from the first entry's index on;
 *       {@code hardState}, if present: write it, durably together with the entries;
 *   <li>{@code persistedMessages}: send only after step 3 is durable (votes and acknowledgements
 *       vouch for persisted state);
 *   <li>{@code committedEntries}: apply in order, after step 3 (calling {@link
 *       RawNode#applyConfChange} for each conf change entry);
 *   <li>{@code readStates}: serve each read once the applied index reaches its index.
 * </ol>
 *
 * @param entries entries to persist, in index order
 * @param hardState the hard state to persist, if it changed
 * @param snapshot a snapshot to install, or {@link Snapshot#EMPTY}
 * @param messages messages that may be sent before persistence
 * @param persistedMessages messages that may be sent only after persistence
 * @param committedEntries entries to apply
 * @param readStates confirmed ReadIndex requests
 * @param mustSync whether step 3 must be fsynced before {@code persistedMessages} go: true when
 *     there are entries or a snapshot, or the term or vote changed. A hard state whose only change
 *     is the commit index may be written without an fsync (and lost in a crash): entries at or
 *     below a commit index are durable already, the application keeps its own applied index, and a
 *     member learns the commit index again from the leader.
 */
public record Ready(
    List<Entry> entries,
    Optional<HardState> hardState,
    Snapshot snapshot,
    List<Message> messages,
    List<Message> persistedMessages,
    List<Entry> committedEntries,
    List<ReadState> readStates,
    boolean mustSync) {

  public Ready {
    entries = List.copyOf(entries);
    messages = List.copyOf(messages);
    persistedMessages = List.copyOf(persistedMessages);
    committedEntries = List.copyOf(committedEntries);
    readStates = List.copyOf(readStates);
    Invariants.check(hardState != null && snapshot != null, "ready parts must not be null");
    Invariants.check(
        mustSync || (entries.isEmpty() && snapshot.isEmpty()),
        "entries and snapshots are always fsynced");
  }

  /** Whether the application must write anything durably before sending persistedMessages. */
  public boolean mustPersist() {
    return !entries.isEmpty() || hardState.isPresent() || !snapshot.isEmpty();
  }
}
