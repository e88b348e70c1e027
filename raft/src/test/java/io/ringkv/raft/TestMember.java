package io.ringkv.raft;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * One member as a node application would run it: a {@link RawNode} over a {@link MemoryRaftStorage}
 * that plays the disk, and a single-register state machine. The Ready loop follows the order {@link
 * Ready} documents: send early messages, persist snapshot, entries and hard state, send the
 * persisted-only messages, apply committed entries, then advance.
 *
 * <p>A crash keeps only the storage; a restart rebuilds the core and the state machine from it.
 *
 * <p>In pipelined mode (as the node's driver runs it) a Ready's write takes a while: its early
 * messages go out at once, and only a later call persists it, sends the rest, applies and advances.
 * Meanwhile the member keeps stepping messages, ticking and proposing, and sends what needs no
 * persistence ({@link RawNode#takeMessagesBeforePersistence}, {@link RawNode#takeReadStates}).
 */
final class TestMember {
  /** What applying entries did, for the checkers. */
  interface ApplyListener {
    void applied(TestMember member, Entry entry);

    void readServed(TestMember member, ReadState readState, long value, long writeIndex);

    void snapshotInstalled(TestMember member, Snapshot snapshot);
  }

  /** Where a simulated crash interrupts the handling of a Ready. */
  enum CrashPoint {
    NONE,
    /** After the early messages went out, before anything was written. */
    BEFORE_PERSIST,
    /** After persisting and sending everything, before applying. */
    AFTER_SEND
  }

  final long id;
  final Config config;
  final MemoryRaftStorage storage;
  private final SplittableRandom random;
  RawNode node;
  boolean alive;

  // State machine (volatile: rebuilt from the snapshot and the log after a restart).
  long registerValue;
  long registerWriteIndex;
  long appliedIndex;
  ConfState confState;

  /** ReadStates received but not yet served (waiting for apply). */
  final List<ReadState> pendingReads = new ArrayList<>();

  /** Snapshot when this many entries were applied since the last one (0 = never). */
  long snapshotEveryEntries;

  /** How many entries to keep in the log behind a snapshot when compacting. */
  long compactionLagEntries = 5;

  /** Pipelined mode: the Ready whose write is still in progress, or null. */
  boolean pipelined;

  private Ready writing;

  /**
   * A hard state whose only change was the commit index, written without an fsync ({@link
   * Ready#mustSync()} false): it reaches storage with the next synced write, and a crash before
   * that loses it, as on a real disk.
   */
  private HardState unsyncedHardState;

  /** Decides when a pipelined write finishes (its own stream: other draws stay as they were). */
  private final SplittableRandom pipelineRandom;

  TestMember(long id, Config config, MemoryRaftStorage storage, long seed) {
    this.id = id;
    this.config = config;
    this.storage = storage;
    this.random = new SplittableRandom(seed);
    this.pipelineRandom = new SplittableRandom(seed ^ 0x5DEECE66DL);
    restart();
  }

  long leaseReadCount() {
    return leaseReadCountBeforeCrashes + (node == null ? 0 : node.leaseReadCount());
  }

  /** A storage bootstrapped with a snapshot at index 1 holding the initial configuration. */
  static MemoryRaftStorage bootstrapStorage(ConfState initial) {
    MemoryRaftStorage storage = new MemoryRaftStorage(initial);
    storage.applySnapshot(new Snapshot(new SnapshotMetadata(1, 1, initial), encodeState(0, 0)));
    storage.setHardState(new HardState(1, 0, 1));
    return storage;
  }

  /** Lease reads confirmed by earlier incarnations of this member (its core's count restarts). */
  long leaseReadCountBeforeCrashes;

  void crash() {
    leaseReadCountBeforeCrashes += node == null ? 0 : node.leaseReadCount();
    alive = false;
    node = null;
    writing = null;
    unsyncedHardState = null;
    pendingReads.clear();
  }

  void restart() {
    Snapshot snapshot = storage.snapshot();
    restoreStateMachine(snapshot);
    confState = storage.initialState().confState();
    long applied = snapshot.metadata().index();
    Config restartConfig = config.withAppliedIndex(applied);
    writing = null;
    node = new RawNode(restartConfig, storage, new SplittableRandom(random.nextLong()));
    alive = true;
  }

  private void restoreStateMachine(Snapshot snapshot) {
    if (snapshot.isEmpty()) {
      registerValue = 0;
      registerWriteIndex = 0;
      appliedIndex = 0;
      return;
    }
    ByteBuffer state = ByteBuffer.wrap(snapshot.data());
    registerValue = state.getLong();
    registerWriteIndex = state.getLong();
    appliedIndex = snapshot.metadata().index();
  }

  static byte[] encodeState(long value, long writeIndex) {
    return ByteBuffer.allocate(16).putLong(value).putLong(writeIndex).array();
  }

  static byte[] encodeWrite(long value) {
    return ByteBuffer.allocate(8).putLong(value).array();
  }

  static long decodeWrite(byte[] data) {
    return ByteBuffer.wrap(data).getLong();
  }

  /**
   * Handles one Ready if there is one; returns false if there was none. {@code crashPoints}
   * chooses, seeing the Ready, whether a crash interrupts its handling and where.
   */
  boolean handleReady(
      Consumer<Message> network,
      ApplyListener listener,
      java.util.function.Function<Ready, CrashPoint> crashPoints) {
    if (!alive) {
      return false;
    }
    if (pipelined) {
      return handlePipelined(network, listener, crashPoints);
    }
    if (!node.hasReady()) {
      return false;
    }
    Ready ready = node.ready();
    CrashPoint crashPoint = crashPoints.apply(ready);
    ready.messages().forEach(network);
    finishReady(ready, crashPoint, network, listener);
    return true;
  }

  private boolean handlePipelined(
      Consumer<Message> network,
      ApplyListener listener,
      java.util.function.Function<Ready, CrashPoint> crashPoints) {
    if (writing == null) {
      if (!node.hasReady()) {
        return false;
      }
      writing = node.ready();
      writing.messages().forEach(network);
      pendingReads.addAll(writing.readStates());
      serveReads(listener);
      return true;
    }
    List<Message> early = node.takeMessagesBeforePersistence();
    early.forEach(network);
    List<ReadState> readStates = node.takeReadStates();
    pendingReads.addAll(readStates);
    serveReads(listener);
    if (pipelineRandom.nextInt(3) == 0) {
      return !early.isEmpty() || !readStates.isEmpty(); // the write is still in progress
    }
    Ready ready = writing;
    writing = null;
    finishReady(ready, crashPoints.apply(ready), network, listener);
    return true;
  }

  /** Persists {@code ready}, sends its persisted-only messages, applies, advances. */
  private void finishReady(
      Ready ready, CrashPoint crashPoint, Consumer<Message> network, ApplyListener listener) {
    if (crashPoint == CrashPoint.BEFORE_PERSIST) {
      crash();
      return;
    }
    if (!ready.snapshot().isEmpty()) {
      storage.applySnapshot(ready.snapshot());
      restoreStateMachine(ready.snapshot());
      confState = ready.snapshot().metadata().confState();
      listener.snapshotInstalled(this, ready.snapshot());
    }
    storage.append(ready.entries());
    if (ready.mustSync()) {
      if (unsyncedHardState != null && ready.hardState().isEmpty()) {
        storage.setHardState(unsyncedHardState);
      }
      unsyncedHardState = null;
      ready.hardState().ifPresent(storage::setHardState);
    } else {
      ready.hardState().ifPresent(state -> unsyncedHardState = state);
    }
    ready.persistedMessages().forEach(network);
    if (crashPoint == CrashPoint.AFTER_SEND) {
      crash();
      return;
    }
    serveReads(listener);
    for (Entry entry : ready.committedEntries()) {
      apply(entry, listener);
      serveReads(listener);
    }
    if (!pipelined) {
      pendingReads.addAll(ready.readStates()); // pipelined: taken when the Ready was
    }
    serveReads(listener);
    node.advance(ready);
    maybeSnapshot();
  }

  private void apply(Entry entry, ApplyListener listener) {
    if (entry.index() <= appliedIndex) {
      return; // already part of the restored snapshot
    }
    Invariants.check(entry.index() == appliedIndex + 1, "apply gap at %d", entry.index());
    if (entry.type() == EntryType.CONF_CHANGE) {
      confState = node.applyConfChange(ConfChange.decode(entry.data()));
    } else if (entry.data().length > 0) {
      registerValue = decodeWrite(entry.data());
      registerWriteIndex = entry.index();
    }
    appliedIndex = entry.index();
    listener.applied(this, entry);
  }

  private void serveReads(ApplyListener listener) {
    pendingReads.removeIf(read -> {
      if (read.index() > appliedIndex) {
        return false;
      }
      listener.readServed(this, read, registerValue, registerWriteIndex);
      return true;
    });
  }

  private void maybeSnapshot() {
    long snapshotIndex = storage.snapshot().metadata().index();
    if (snapshotEveryEntries <= 0 || appliedIndex - snapshotIndex < snapshotEveryEntries) {
      return;
    }
    if (appliedIndex > storage.lastIndex()) {
      return;
    }
    storage.createSnapshot(appliedIndex, confState, encodeState(registerValue, registerWriteIndex));
    long compactTo = appliedIndex - compactionLagEntries;
    if (compactTo > storage.firstIndex()) {
      storage.compact(compactTo);
    }
  }

  /** The alive member that is leader of the highest term among {@code members}, or 0. */
  static long leaderOfHighestTerm(Iterable<TestMember> members) {
    long leader = 0;
    long term = -1;
    for (TestMember member : members) {
      if (member.alive
          && member.node.status().role() == Role.LEADER
          && member.node.status().term() > term) {
        leader = member.id;
        term = member.node.status().term();
      }
    }
    return leader;
  }
}
