package io.ringkv.jepsen.harness.nemesis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Status;
import io.ringkv.jepsen.history.Keyword;
import io.ringkv.proto.internal.ClusterMap;
import io.ringkv.proto.internal.ClusterMember;
import io.ringkv.proto.internal.ReplicaMove;
import io.ringkv.proto.v1.AddNodeResponse;
import io.ringkv.proto.v1.RemoveNodeResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * Proves the membership nemesis's bookkeeping against a model cluster whose map drains one move per
 * read: over many seeded rounds the map never holds fewer ACTIVE members than the replication
 * factor, at most one node is leaving, each spare joins once, only REMOVED nodes are retired, and
 * with no spare left and no node to spare the fault is idle; a heal whose map never settles returns
 * after its bound with nothing retired, and the next heal finishes the job; a refused decommission
 * changes nothing. Seeds are printed in the assertion messages.
 */
class MembershipNemesisTest {
  private static final Duration SETTLE = Duration.ofSeconds(30);

  @Test
  void neverBelowReplicationFactorAndRetiresOnlyRemovedNodes() throws Exception {
    for (long seed = 1; seed <= 40; seed++) {
      Random random = new Random(seed);
      ModelCluster model = new ModelCluster(5, 2, 3, 2);
      MembershipNemesis nemesis = model.nemesis();
      List<Keyword> done = new ArrayList<>();
      for (int round = 0; round < 12; round++) {
        Keyword f = nemesis.prepare(random);
        NemesisEvent started = nemesis.start(random);
        assertThat(started.f()).isEqualTo(f);
        done.add(f);
        assertThat(model.activeInMap())
            .as("seed %d round %d", seed, round)
            .isGreaterThanOrEqualTo(3);
        assertThat(model.leavingInMap()).as("seed %d round %d", seed, round).isLessThanOrEqualTo(1);
        NemesisEvent healed = nemesis.stop();
        assertThat(((Map<?, ?>) healed.value()).get(Keyword.of("settled")))
            .as("seed %d round %d", seed, round)
            .isEqualTo(true);
        for (int node : model.retired) {
          assertThat(model.state.get(node)).isEqualTo(ClusterMember.State.REMOVED);
        }
        assertThat(model.activeInMap()).isEqualTo(model.running().size());
      }
      // 7 nodes in all, 3 must stay: at most 2 joins and 4 decommissions, then only idle faults.
      assertThat(done.stream().filter(MembershipNemesis.JOIN::equals).count())
          .as("seed %d", seed)
          .isEqualTo(2);
      assertThat(done.stream().filter(MembershipNemesis.DECOMMISSION::equals).count())
          .as("seed %d", seed)
          .isEqualTo(4);
      assertThat(done.getLast()).isEqualTo(MembershipNemesis.IDLE);
      assertThat(model.joinedTwice).isFalse();
    }
  }

  @Test
  void healIsBoundedAndTheNextHealRetires() throws Exception {
    ModelCluster model = new ModelCluster(4, 0, 3, 1);
    MembershipNemesis nemesis = model.nemesis();
    Random random = new Random(7);
    assertThat(nemesis.prepare(random)).isEqualTo(MembershipNemesis.DECOMMISSION);
    NemesisEvent started = nemesis.start(random);
    long node = (Long) ((Map<?, ?>) started.value()).get(Keyword.of("node"));
    model.stuck = true;
    long before = model.nanos;
    Map<?, ?> first = (Map<?, ?>) nemesis.stop().value();
    assertThat(first.get(Keyword.of("settled"))).isEqualTo(false);
    assertThat(first.get(Keyword.of("retired"))).isEqualTo(List.of());
    assertThat(first.get(Keyword.of("leaving"))).isEqualTo(List.of(node));
    assertThat(model.nanos - before).isBetween(SETTLE.toNanos(), SETTLE.toNanos() + 2_000_000_000L);
    assertThat(nemesis.prepare(random))
        .as("one leaving at a time")
        .isEqualTo(MembershipNemesis.IDLE);
    nemesis.start(random);
    model.stuck = false;
    Map<?, ?> second = (Map<?, ?>) nemesis.stop().value();
    assertThat(second.get(Keyword.of("settled"))).isEqualTo(true);
    assertThat(second.get(Keyword.of("retired"))).isEqualTo(List.of(node));
    assertThat(model.retired).containsExactly((int) node);
  }

  @Test
  void aHealWaitsForMovesPlannedButNotYetStarted() throws Exception {
    ModelCluster model = new ModelCluster(3, 1, 3, 3);
    MembershipNemesis nemesis = model.nemesis();
    Random random = new Random(5);
    assertThat(nemesis.prepare(random)).isEqualTo(MembershipNemesis.JOIN);
    nemesis.start(random);
    assertThat(model.moves).as("no move recorded yet").isZero();
    assertThat(model.unstarted).isEqualTo(3);
    Map<?, ?> healed = (Map<?, ?>) nemesis.stop().value();
    assertThat(healed.get(Keyword.of("settled"))).isEqualTo(true);
    assertThat(model.moves + model.unstarted).as("every planned move done").isZero();
  }

  @Test
  void joinsAndDecommissionsAlternateOnceBothArePossible() throws Exception {
    for (long seed = 1; seed <= 20; seed++) {
      ModelCluster model = new ModelCluster(4, 3, 3, 1);
      MembershipNemesis nemesis = model.nemesis();
      Random random = new Random(seed);
      List<Keyword> done = new ArrayList<>();
      for (int round = 0; round < 4; round++) {
        done.add(nemesis.prepare(random));
        nemesis.start(random);
        nemesis.stop();
      }
      for (int i = 1; i < done.size(); i++) {
        assertThat(done.get(i)).as("seed %d: %s", seed, done).isNotEqualTo(done.get(i - 1));
      }
    }
  }

  @Test
  void refusedDecommissionChangesNothing() throws Exception {
    ModelCluster model = new ModelCluster(4, 0, 3, 1);
    MembershipNemesis nemesis = model.nemesis();
    Random random = new Random(3);
    model.refuseRemoval = true;
    assertThat(nemesis.prepare(random)).isEqualTo(MembershipNemesis.DECOMMISSION);
    assertThatThrownBy(() -> nemesis.start(random)).hasMessageContaining("FAILED_PRECONDITION");
    nemesis.stop();
    assertThat(model.retired).isEmpty();
    model.refuseRemoval = false;
    assertThat(nemesis.prepare(random)).isEqualTo(MembershipNemesis.DECOMMISSION);
    nemesis.start(random);
    nemesis.stop();
    assertThat(model.retired).hasSize(1);
    assertThat(nemesis.prepare(random)).isEqualTo(MembershipNemesis.IDLE);
  }

  @Test
  void aHealAfterAFailedCommandDoesNotWait() throws Exception {
    ModelCluster model = new ModelCluster(4, 0, 3, 1);
    MembershipNemesis nemesis = model.nemesis();
    Random random = new Random(3);
    model.refuseRemoval = true;
    nemesis.prepare(random);
    assertThatThrownBy(() -> nemesis.start(random)).hasMessageContaining("FAILED_PRECONDITION");
    model.stuck = true;
    long before = model.nanos;
    nemesis.stop();
    assertThat(model.nanos - before).as("one map read, no wait").isEqualTo(1_000_000_000L);
  }

  /** A cluster map that drains one move per read, and node processes as flags. */
  private static final class ModelCluster implements MembershipControl {
    final TreeMap<Integer, ClusterMember.State> state = new TreeMap<>();
    final List<Integer> spares = new ArrayList<>();
    final List<Integer> retired = new ArrayList<>();
    final int replicationFactor;
    final int movesPerChange;
    int moves;

    /** Moves a change planned that no map read has shown yet: the coordinator starts them later. */
    int unstarted;

    long epoch = 1;
    long nanos;
    boolean stuck;
    boolean refuseRemoval;
    boolean joinedTwice;
    final List<Integer> started = new ArrayList<>();

    ModelCluster(int nodes, int spareCount, int replicationFactor, int movesPerChange) {
      for (int id = 1; id <= nodes; id++) {
        state.put(id, ClusterMember.State.ACTIVE);
        started.add(id);
      }
      for (int id = nodes + 1; id <= nodes + spareCount; id++) {
        spares.add(id);
      }
      this.replicationFactor = replicationFactor;
      this.movesPerChange = movesPerChange;
    }

    MembershipNemesis nemesis() {
      return new MembershipNemesis(this, SETTLE, Duration.ofMillis(1), () -> nanos);
    }

    List<Integer> running() {
      return started.stream().filter(id -> !retired.contains(id)).toList();
    }

    int activeInMap() {
      return (int) state.values().stream().filter(s -> s == ClusterMember.State.ACTIVE).count();
    }

    int leavingInMap() {
      return (int)
          state.values().stream().filter(s -> s == ClusterMember.State.DECOMMISSIONING).count();
    }

    @Override
    public List<Integer> memberIds() {
      return running();
    }

    @Override
    public List<Integer> unusedSpareIds() {
      return List.copyOf(spares);
    }

    @Override
    public int replicationFactor() {
      return replicationFactor;
    }

    @Override
    public void startSpare(int nodeId) {
      joinedTwice |= started.contains(nodeId);
      spares.remove((Integer) nodeId);
      started.add(nodeId);
    }

    @Override
    public void retire(int nodeId) {
      retired.add(nodeId);
    }

    @Override
    public AddNodeResponse addNode(int nodeId) {
      state.put(nodeId, ClusterMember.State.ACTIVE);
      unstarted += movesPerChange;
      return AddNodeResponse.newBuilder().setMapEpoch(++epoch).setNodeId(nodeId).build();
    }

    @Override
    public RemoveNodeResponse decommission(int nodeId) {
      if (refuseRemoval) {
        throw Status.FAILED_PRECONDITION.withDescription("refused").asRuntimeException();
      }
      state.put(nodeId, ClusterMember.State.DECOMMISSIONING);
      unstarted += movesPerChange;
      return RemoveNodeResponse.newBuilder().setMapEpoch(++epoch).build();
    }

    @Override
    public ClusterMap clusterMap() {
      nanos += 1_000_000_000L; // each read takes a second of model time
      if (!stuck && moves > 0) {
        moves--;
        epoch++;
      }
      if (moves == 0 && unstarted == 0) {
        state.replaceAll(
            (id, s) -> s == ClusterMember.State.DECOMMISSIONING ? ClusterMember.State.REMOVED : s);
      }
      ClusterMap.Builder map = ClusterMap.newBuilder().setEpoch(epoch);
      state.forEach(
          (id, s) -> map.addMembers(ClusterMember.newBuilder().setNodeId(id).setState(s)));
      for (int i = 0; i < moves; i++) {
        map.addMoves(ReplicaMove.newBuilder().setGroup(i));
      }
      // The coordinator starts the planned moves after this read: the first map after a change
      // holds none of them.
      if (unstarted > 0) {
        moves += unstarted;
        unstarted = 0;
        epoch++;
      }
      return map.build();
    }

    @Override
    public int unstartedMoves(long mapEpoch) {
      return mapEpoch == epoch ? unstarted : -1;
    }
  }
}
