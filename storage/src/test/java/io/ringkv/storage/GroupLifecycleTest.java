package io.ringkv.storage;

import static io.ringkv.storage.TestStores.bytes;
import static org.assertj.core.api.Assertions.assertThat;

import io.ringkv.raft.ConfState;
import io.ringkv.raft.HardState;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves the run-time life of a group's replica in one store: the groups with persisted Raft state
 * (and replicas created empty, before any Raft state) are listed after a reopen, and destroying a
 * group removes its log, hard state, configuration, applied state, data, sessions and changefeed,
 * durably, without touching a neighbouring group (the group ids around it included).
 */
class GroupLifecycleTest {
  @TempDir Path directory;

  private static void fill(StorageEngine engine, long group) {
    engine
        .groupCommitter()
        .commit(
            List.of(
                new LogWrite(
                    group,
                    null,
                    TestStores.entries(1, 3, 1),
                    new HardState(1, 1, 3),
                    ConfState.ofVoters(Set.of(1L, 2L, 3L)))));
    engine
        .partition(group)
        .apply(
            ApplyBatch.of(
                3, 1, 1000, List.of(new Mutation.Put(bytes("k" + group), bytes("v"), 3))));
  }

  @Test
  void createdAndBootstrappedGroupsAreListedAndADestroyedGroupIsGoneAfterReopen() {
    try (StorageEngine engine = TestStores.open(directory)) {
      assertThat(engine.persistedGroups()).isEmpty();
      fill(engine, 1);
      fill(engine, 2);
      fill(engine, 3);
      engine.markReplicaCreated(7);
      assertThat(engine.persistedGroups()).containsExactly(1L, 2L, 3L, 7L);
      assertThat(engine.approximateDataBytes(2)).isPositive();

      engine.destroyGroup(2);
      assertThat(engine.persistedGroups()).containsExactly(1L, 3L, 7L);
    }
    try (StorageEngine engine = TestStores.open(directory)) {
      assertThat(engine.persistedGroups()).containsExactly(1L, 3L, 7L);
      RaftLogStore destroyed = engine.raftLog(2);
      assertThat(destroyed.lastIndex()).isZero();
      assertThat(destroyed.initialState().confState()).isEqualTo(ConfState.EMPTY);
      assertThat(destroyed.initialState().hardState().term()).isZero();
      assertThat(engine.partition(2).appliedState()).isEqualTo(AppliedState.EMPTY);
      assertThat(engine.partition(2).get(bytes("k2"))).isEmpty();
      assertThat(engine.changefeed(2).read(1, 100, 1 << 20)).isEmpty();
      for (long neighbour : List.of(1L, 3L)) {
        assertThat(engine.raftLog(neighbour).lastIndex()).isEqualTo(3);
        assertThat(engine.partition(neighbour).get(bytes("k" + neighbour))).isPresent();
        assertThat(engine.partition(neighbour).appliedState().index()).isEqualTo(3);
        assertThat(engine.changefeed(neighbour).read(1, 100, 1 << 20)).hasSize(1);
      }
      engine.destroyGroup(7);
      assertThat(engine.persistedGroups()).containsExactly(1L, 3L);
    }
  }
}
