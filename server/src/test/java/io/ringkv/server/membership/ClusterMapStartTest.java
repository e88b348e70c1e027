package io.ringkv.server.membership;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ringkv.proto.internal.ClusterMap;
import io.ringkv.proto.internal.ClusterMember;
import io.ringkv.proto.internal.GroupReplicas;
import io.ringkv.proto.internal.ReplicaMove;
import io.ringkv.server.config.ConfigLoader;
import io.ringkv.server.config.NodeConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves which map a node starts from and what it bootstraps: a first start of a configured member
 * takes the initial map and bootstraps; a restart takes the persisted map (written atomically) and
 * bootstraps nothing, even when the configured members differ; a joining node takes a seed's map,
 * asks the next seed when one does not answer, and refuses a map of another cluster or a damaged
 * file; the cluster's shape and members then come from the map. Also the pure rule by which a node
 * destroys a replica the map has left behind, and that the planted bug switch needs
 * allow-unsafe-debug.
 */
class ClusterMapStartTest {
  @TempDir Path dataDir;

  private NodeConfig config(String... extra) {
    List<String> flags =
        new ArrayList<>(
            List.of(
                "--data-dir",
                dataDir.toString(),
                "--node-id",
                "4",
                "--cluster-id",
                "c1",
                "--host",
                "127.0.2.40",
                "--client-addr",
                ":7379",
                "--peer-addr",
                ":7380",
                "--metrics-addr",
                ":7390"));
    flags.addAll(List.of(extra));
    return ConfigLoader.load(flags.toArray(String[]::new));
  }

  private static ClusterMap seedMap(String clusterId) {
    ClusterMap.Builder map =
        ClusterMap.newBuilder()
            .setEpoch(7)
            .setClusterId(clusterId)
            .setPartitionCount(2)
            .setReplicationFactor(3)
            .setVirtualTokensPerNode(16)
            .setMetaReplicasMax(5);
    for (long id = 1; id <= 3; id++) {
      map.addMembers(
          ClusterMember.newBuilder()
              .setNodeId(id)
              .setClientAddress("127.0.2.4" + id + ":7379")
              .setPeerAddress("127.0.2.4" + id + ":7380")
              .setState(ClusterMember.State.ACTIVE));
    }
    for (int group = 0; group <= 2; group++) {
      map.addGroups(GroupReplicas.newBuilder().addAllVoters(List.of(1L, 2L, 3L)));
    }
    return map.build();
  }

  @Test
  void firstStartBootstrapsFromTheInitialMapAndARestartFromThePersistedOne() throws Exception {
    NodeConfig config = config("--members", "4@127.0.2.40:7379:7380");
    ClusterMapFile file = new ClusterMapFile(dataDir);
    ClusterMapStart.Start first =
        ClusterMapStart.choose(config, file, seed -> Optional.empty(), () -> 0);
    assertThat(first.bootstrap()).isTrue();
    assertThat(first.map()).isEqualTo(ClusterMaps.initial(config));

    ClusterMap later = seedMap("c1");
    file.write(later);
    ClusterMapStart.Start restart =
        ClusterMapStart.choose(config, file, seed -> Optional.empty(), () -> 0);
    assertThat(restart.bootstrap()).as("never again after the first start").isFalse();
    assertThat(restart.map()).isEqualTo(later);

    NodeConfig shaped = ClusterMapStart.shapedBy(config, later);
    assertThat(shaped.partitionCount()).isEqualTo(2);
    assertThat(shaped.replicationFactor()).isEqualTo(3);
    assertThat(shaped.members()).extracting(m -> m.nodeId()).containsExactly(1L, 2L, 3L, 4L);
  }

  @Test
  void joiningNodeTakesASeedsMapAndRefusesAnotherCluster() throws Exception {
    NodeConfig config = config("--join", "127.0.2.41:7379,127.0.2.42:7379");
    ClusterMapFile file = new ClusterMapFile(dataDir);
    List<String> asked = new ArrayList<>();
    ClusterMapStart.Start start =
        ClusterMapStart.choose(
            config,
            file,
            seed -> {
              asked.add(seed.toString());
              return seed.host().endsWith(".42") ? Optional.of(seedMap("c1")) : Optional.empty();
            },
            () -> 0);
    assertThat(asked).containsExactly("127.0.2.41:7379", "127.0.2.42:7379");
    assertThat(start.bootstrap()).isFalse();
    assertThat(start.map().getEpoch()).isEqualTo(7);

    assertThatThrownBy(() ->
            ClusterMapStart.choose(config, file, seed -> Optional.of(seedMap("other")), () -> 0))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("'other'");
  }

  @Test
  void damagedOrForeignMapFileRefusesToStart() throws Exception {
    NodeConfig config = config("--members", "4@127.0.2.40:7379:7380");
    ClusterMapFile file = new ClusterMapFile(dataDir);
    file.write(seedMap("other"));
    assertThatThrownBy(
            () -> ClusterMapStart.choose(config, file, seed -> Optional.empty(), () -> 0))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("cluster 'other'");
    Files.write(file.path(), new byte[] {(byte) 0xff, 0x01, 0x02});
    assertThatThrownBy(
            () -> ClusterMapStart.choose(config, file, seed -> Optional.empty(), () -> 0))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("damaged");
  }

  @Test
  void plantedSkipSnapshotDataNeedsAllowUnsafeDebug() {
    assertThatThrownBy(() -> config("--debug-move-skip-snapshot-data", "true"))
        .hasMessageContaining("allow-unsafe-debug");
    assertThat(
            config("--debug-move-skip-snapshot-data", "true", "--allow-unsafe-debug", "true")
                .membership()
                .debugMoveSkipSnapshotData())
        .isTrue();
    assertThat(config().membership().debugMoveSkipSnapshotData()).isFalse();
  }

  @Test
  void aReplicaIsLeftBehindOnlyWhenNeitherVotersNorAMoveInvolveTheNode() {
    ClusterMap map = seedMap("c1");
    assertThat(LeftBehindReplicas.leftBehind(map, 1, 0)).as("a voter").isFalse();
    assertThat(LeftBehindReplicas.leftBehind(map, 4, 0)).as("neither").isTrue();
    assertThat(LeftBehindReplicas.leftBehind(map, 4, 9)).as("no such group").isFalse();
    ClusterMap moving =
        map.toBuilder()
            .addMoves(
                ReplicaMove.newBuilder()
                    .setGroup(0)
                    .setFromNode(1)
                    .setToNode(4)
                    .setPhase(ReplicaMove.Phase.CATCH_UP))
            .build();
    assertThat(LeftBehindReplicas.leftBehind(moving, 4, 0)).as("arriving").isFalse();
    assertThat(LeftBehindReplicas.leftBehind(moving, 4, 1)).as("other group").isTrue();
  }
}
