package io.ringkv.raft;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.UnaryOperator;

/**
 * A cluster for scripted scenario tests: a perfect, in-order network whose links the script cuts
 * and heals, and members that run {@link TestMember}'s application loop. Time only moves when the
 * script ticks; {@link #stabilize()} delivers messages and handles Readies until nothing moves.
 */
final class ScriptedCluster implements TestMember.ApplyListener {
  final TreeMap<Long, TestMember> members = new TreeMap<>();
  private final ArrayDeque<Message> queue = new ArrayDeque<>();
  private final Set<Long> cut = new HashSet<>();

  /** Messages the script chose to hold back, by predicate. */
  final List<Message> dropped = new ArrayList<>();

  final List<ReadState> servedReads = new ArrayList<>();

  /** Messages matching this are dropped (besides cut links). */
  java.util.function.Predicate<Message> dropFilter = message -> false;

  /** Every message delivered or dropped, in order. */
  final List<Message> sent = new ArrayList<>();

  final List<Long> servedReadValues = new ArrayList<>();
  final TreeMap<Long, List<Entry>> appliedByMember = new TreeMap<>();

  /** Creates voters {@code 1..voterCount}, configured by {@code configure}. */
  ScriptedCluster(int voterCount, UnaryOperator<Config.Builder> configure) {
    Set<Long> voters = new TreeSet<>();
    for (long id = 1; id <= voterCount; id++) {
      voters.add(id);
    }
    for (long id : voters) {
      add(id, TestMember.bootstrapStorage(ConfState.ofVoters(voters)), configure);
    }
  }

  /**
   * Three voters led by 1 that snapshot every {@code snapshotEveryEntries} entries; member 3 is
   * isolated while writes {@code 1..writeCount} commit, so it falls behind the compacted log.
   */
  static ScriptedCluster withLaggingMember3(int snapshotEveryEntries, int writeCount) {
    ScriptedCluster cluster = new ScriptedCluster(3, builder -> builder);
    cluster.members.values().forEach(member -> member.snapshotEveryEntries = snapshotEveryEntries);
    cluster.campaign(1);
    cluster.isolate(3);
    for (long value = 1; value <= writeCount; value++) {
      cluster.propose(1, value);
    }
    return cluster;
  }

  TestMember add(long id, MemoryRaftStorage storage, UnaryOperator<Config.Builder> configure) {
    Config config =
        configure
            .apply(Config.builder(id).electionTimeoutTicks(10).heartbeatTimeoutTicks(1))
            .build();
    TestMember member = new TestMember(id, config, storage, id * 7919);
    members.put(id, member);
    appliedByMember.put(id, new ArrayList<>());
    return member;
  }

  /** Adds a member with an empty log outside the configuration (to be added by conf change). */
  TestMember addSpare(long id, UnaryOperator<Config.Builder> configure) {
    return add(id, new MemoryRaftStorage(ConfState.EMPTY), configure);
  }

  RawNode node(long id) {
    return members.get(id).node;
  }

  Status status(long id) {
    return members.get(id).node.status();
  }

  private static long link(long from, long to) {
    return from * 1_000_003L + to;
  }

  void cut(long from, long to) {
    cut.add(link(from, to));
  }

  void isolate(long id) {
    for (long other : members.keySet()) {
      if (other != id) {
        cut(id, other);
        cut(other, id);
      }
    }
  }

  void heal() {
    cut.clear();
  }

  /** Ticks one member {@code count} times, stabilizing after each tick. */
  void tick(long id, int count) {
    for (int i = 0; i < count; i++) {
      if (members.get(id).alive) {
        members.get(id).node.tick();
      }
      stabilize();
    }
  }

  /** Ticks every alive member {@code count} times. */
  void tickAll(int count) {
    for (int i = 0; i < count; i++) {
      for (TestMember member : members.values()) {
        if (member.alive) {
          member.node.tick();
        }
      }
      stabilize();
    }
  }

  void campaign(long id) {
    members.get(id).node.campaign();
    stabilize();
  }

  void propose(long id, long value) {
    members.get(id).node.propose(TestMember.encodeWrite(value));
    stabilize();
  }

  /** Delivers and handles Readies until quiet (bounded: a livelock fails the test). */
  void stabilize() {
    for (int round = 0; round < 10_000; round++) {
      boolean moved = false;
      for (TestMember member : members.values()) {
        while (member.handleReady(this::enqueue, this, ready -> TestMember.CrashPoint.NONE)) {
          moved = true;
        }
      }
      Message message;
      while ((message = queue.poll()) != null) {
        TestMember target = members.get(message.to());
        sent.add(message);
        if (target == null
            || !target.alive
            || cut.contains(link(message.from(), message.to()))
            || dropFilter.test(message)) {
          dropped.add(message);
          continue;
        }
        target.node.step(message);
        if (message.type() == MessageType.SNAPSHOT) {
          members.get(message.from()).node.reportSnapshot(message.to(), true);
        }
        moved = true;
      }
      if (!moved) {
        return;
      }
    }
    throw new AssertionError("cluster did not stabilize");
  }

  private void enqueue(Message message) {
    queue.add(message);
  }

  /** The member that is leader of the highest term, or 0. */
  long leader() {
    return TestMember.leaderOfHighestTerm(members.values());
  }

  /** Values of the writes {@code id} applied, in order. */
  List<Long> appliedValues(long id) {
    List<Long> values = new ArrayList<>();
    for (Entry entry : appliedByMember.get(id)) {
      if (entry.type() == EntryType.NORMAL && entry.data().length == 8) {
        values.add(TestMember.decodeWrite(entry.data()));
      }
    }
    return values;
  }

  @Override
  public void applied(TestMember member, Entry entry) {
    appliedByMember.get(member.id).add(entry);
  }

  @Override
  public void readServed(TestMember member, ReadState readState, long value, long writeIndex) {
    servedReads.add(readState);
    servedReadValues.add(value);
  }

  @Override
  public void snapshotInstalled(TestMember member, Snapshot snapshot) {}
}
