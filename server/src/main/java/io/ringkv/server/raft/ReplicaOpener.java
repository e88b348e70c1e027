package io.ringkv.server.raft;

import io.ringkv.raft.ConfState;
import io.ringkv.raft.Config;
import io.ringkv.raft.Entry;
import io.ringkv.raft.Invariants;
import io.ringkv.raft.RaftLogReader;
import io.ringkv.raft.RawNode;
import io.ringkv.raft.Snapshot;
import io.ringkv.storage.AppliedState;
import io.ringkv.storage.LogWrite;
import io.ringkv.storage.PartitionStore;
import io.ringkv.storage.RaftLogStore;
import io.ringkv.storage.StorageEngine;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.random.RandomGenerator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Opens the local replicas at start (on the thread that builds the driver, before its loop runs).
 *
 * <p>A group with no configuration, no log and no snapshot is new: every replica of it writes the
 * same initial configuration, the placement's voters, all of them in one durable write. A replica
 * whose store an interrupted snapshot install left incomplete refuses to open.
 */
final class ReplicaOpener {
  private static final Logger log = LoggerFactory.getLogger(ReplicaOpener.class);

  private ReplicaOpener() {}

  /**
   * Bootstraps the new groups of {@code replicas} (group -> voters), then opens a replica of each
   * of them and of every other group the store holds Raft state of (replicas created at run time),
   * in group order.
   */
  static Map<Integer, GroupReplica> open(
      DriverSettings settings,
      StorageEngine engine,
      Map<Integer, List<Long>> replicas,
      RandomGenerator random) {
    List<LogWrite> bootstrap = new ArrayList<>();
    for (Map.Entry<Integer, List<Long>> placed : replicas.entrySet()) {
      RaftLogStore raftLog = engine.raftLog(placed.getKey());
      if (raftLog.initialState().confState().voters().isEmpty()
          && raftLog.lastIndex() == 0
          && raftLog.snapshot().isEmpty()) {
        bootstrap.add(
            new LogWrite(
                placed.getKey(),
                null,
                List.of(),
                null,
                ConfState.ofVoters(new HashSet<>(placed.getValue()))));
      }
    }
    if (!bootstrap.isEmpty()) {
      engine.groupCommitter().commit(bootstrap);
      log.info("bootstrapped {} partition replicas", bootstrap.size());
    }
    SortedSet<Integer> groups = new TreeSet<>(replicas.keySet());
    for (long group : engine.persistedGroups()) {
      groups.add(Math.toIntExact(group));
    }
    Map<Integer, GroupReplica> opened = new LinkedHashMap<>();
    for (int partition : groups) {
      opened.put(partition, openOne(settings, engine, partition, random));
    }
    return opened;
  }

  static GroupReplica openOne(
      DriverSettings settings, StorageEngine engine, int partition, RandomGenerator random) {
    RaftLogStore raftLog = engine.raftLog(partition);
    PartitionStore store = engine.partition(partition);
    Invariants.check(
        !store.needsSnapshot(),
        "partition %d: an interrupted snapshot install left it incomplete: %s",
        partition,
        store.needsSnapshotReason());
    Config config =
        Config.builder(settings.nodeId())
            .electionTimeoutTicks(settings.electionTimeoutTicks())
            .heartbeatTimeoutTicks(settings.heartbeatTimeoutTicks())
            .appliedIndex(store.appliedState().index())
            .preVote(true)
            .checkQuorum(true)
            .readOnlyMode(settings.readOnlyMode())
            .maxCommittedSizeBytesPerReady(settings.peerBatchSizeBytesMax())
            // A follower then receives at most this between two Readies: one log write's worth.
            .maxInflightBytes(settings.raftInflightBytesMax())
            .build();
    RawNode raw = new RawNode(config, withAppliedConf(raftLog, store), random);
    return new GroupReplica(
        partition,
        raw,
        raftLog,
        store,
        new PartitionStateMachine(store, settings.sessionTtlMillis()));
  }

  /**
   * The log as the core sees it at open, with the configuration as of the applied index. The Raft
   * state records the configuration only at bootstrap and with snapshots; a configuration change
   * applied since is recorded with the applied state, and the core does not apply its entry again
   * (it starts at the applied index), so without this a restarted member would run with the
   * configuration before the change.
   */
  static RaftLogReader withAppliedConf(RaftLogStore raftLog, PartitionStore store) {
    AppliedState applied = store.appliedState();
    RaftLogReader.InitialState initial = raftLog.initialState();
    if (applied.confState().voters().isEmpty()
        || applied.index() < raftLog.snapshot().metadata().index()) {
      return raftLog;
    }
    RaftLogReader.InitialState current =
        new RaftLogReader.InitialState(initial.hardState(), applied.confState());
    return new RaftLogReader() {
      @Override
      public InitialState initialState() {
        return current;
      }

      @Override
      public List<Entry> entries(long lowIndex, long highIndex, long maxSizeBytes) {
        return raftLog.entries(lowIndex, highIndex, maxSizeBytes);
      }

      @Override
      public long term(long index) {
        return raftLog.term(index);
      }

      @Override
      public long firstIndex() {
        return raftLog.firstIndex();
      }

      @Override
      public long lastIndex() {
        return raftLog.lastIndex();
      }

      @Override
      public Snapshot snapshot() {
        return raftLog.snapshot();
      }
    };
  }
}
