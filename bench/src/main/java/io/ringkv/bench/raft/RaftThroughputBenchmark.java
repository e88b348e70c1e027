package io.ringkv.bench.raft;

import io.ringkv.raft.ConfState;
import io.ringkv.raft.Config;
import io.ringkv.raft.Entry;
import io.ringkv.raft.HardState;
import io.ringkv.raft.MemoryRaftStorage;
import io.ringkv.raft.Message;
import io.ringkv.raft.RawNode;
import io.ringkv.raft.Ready;
import io.ringkv.raft.Role;
import io.ringkv.raft.Snapshot;
import io.ringkv.raft.SnapshotMetadata;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Committed entries per second through a 3-member Raft group in one thread, with no I/O: members
 * persist to {@link MemoryRaftStorage} and messages are handed over in memory. Each invocation
 * proposes a batch of {@link #BATCH_ENTRIES} 100-byte commands at the leader and pumps Ready /
 * persist / deliver / apply / advance until every member applied them; the score is entries per
 * second (one operation = one entry). Storage is compacted behind the applied index so memory stays
 * flat.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(1)
public class RaftThroughputBenchmark {
  static final int BATCH_ENTRIES = 1000;
  static final int COMMAND_SIZE_BYTES = 100;
  private static final int PUMP_ROUNDS_MAX = 10_000;

  private final List<Member> members = new ArrayList<>();
  private final ArrayDeque<Message> network = new ArrayDeque<>();
  private final List<byte[]> batch = new ArrayList<>();
  private Member leader;

  private static final class Member {
    final long id;
    final MemoryRaftStorage storage;
    final RawNode node;
    long appliedIndex;

    Member(long id, MemoryRaftStorage storage, RawNode node) {
      this.id = id;
      this.storage = storage;
      this.node = node;
    }
  }

  @Setup(Level.Trial)
  public void setUp() {
    ConfState voters = ConfState.ofVoters(Set.of(1L, 2L, 3L));
    for (long id = 1; id <= 3; id++) {
      MemoryRaftStorage storage = new MemoryRaftStorage(voters);
      storage.applySnapshot(new Snapshot(new SnapshotMetadata(1, 1, voters), new byte[0]));
      storage.setHardState(new HardState(1, 0, 1));
      Config config =
          Config.builder(id)
              .electionTimeoutTicks(10)
              .heartbeatTimeoutTicks(1)
              .maxSizeBytesPerAppend(1 << 20)
              .maxInflightMessages(256)
              .build();
      members.add(new Member(id, storage, new RawNode(config, storage, new SplittableRandom(id))));
    }
    members.get(0).node.campaign();
    pump(0);
    leader = members.get(0);
    if (leader.node.status().role() != Role.LEADER) {
      throw new IllegalStateException("member 1 did not become leader");
    }
    for (int i = 0; i < BATCH_ENTRIES; i++) {
      byte[] command = new byte[COMMAND_SIZE_BYTES];
      command[0] = (byte) i;
      batch.add(command);
    }
  }

  @Benchmark
  @OperationsPerInvocation(BATCH_ENTRIES)
  public long proposeBatchUntilApplied() {
    leader.node.proposeBatch(batch);
    long target = leader.node.status().lastIndex();
    pump(target);
    compact();
    return target;
  }

  /** Runs the application loop of every member until all applied {@code target}. */
  private void pump(long target) {
    for (int round = 0; round < PUMP_ROUNDS_MAX; round++) {
      boolean moved = false;
      for (Member member : members) {
        if (member.node.hasReady()) {
          handleReady(member);
          moved = true;
        }
      }
      Message message;
      while ((message = network.poll()) != null) {
        members.get((int) message.to() - 1).node.step(message);
        moved = true;
      }
      if (!moved && allApplied(target)) {
        return;
      }
      if (!moved) {
        // Followers learn the final commit index from the next heartbeat.
        leader.node.tick();
      }
    }
    throw new IllegalStateException("cluster did not apply index " + target);
  }

  private void handleReady(Member member) {
    Ready ready = member.node.ready();
    network.addAll(ready.messages());
    member.storage.append(ready.entries());
    ready.hardState().ifPresent(member.storage::setHardState);
    network.addAll(ready.persistedMessages());
    List<Entry> committed = ready.committedEntries();
    if (!committed.isEmpty()) {
      member.appliedIndex = committed.get(committed.size() - 1).index();
    }
    member.node.advance(ready);
  }

  private boolean allApplied(long target) {
    for (Member member : members) {
      if (member.appliedIndex < target) {
        return false;
      }
    }
    return true;
  }

  private void compact() {
    for (Member member : members) {
      long applied = member.appliedIndex;
      if (applied - member.storage.firstIndex() > 4 * BATCH_ENTRIES) {
        member.storage.createSnapshot(applied, member.node.status().confState(), new byte[0]);
        member.storage.compact(applied - BATCH_ENTRIES);
      }
    }
  }
}
