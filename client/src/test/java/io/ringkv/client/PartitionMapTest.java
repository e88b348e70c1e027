package io.ringkv.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ringkv.proto.v1.Member;
import io.ringkv.proto.v1.MembersResponse;
import io.ringkv.proto.v1.PartitionInfo;
import io.ringkv.proto.v1.PartitionsResponse;
import io.ringkv.routing.KeyHasher;
import io.ringkv.routing.PartitionLayout;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Proves routing from a partition map built here: key -> partition agrees with the shared
 * KeyHasher/PartitionLayout, the leader's address comes first and the replicas follow, an unknown
 * leader falls back to replicas, hash tags co-locate keys, inconsistent maps are refused, and a
 * member gossip holds dead is skipped while any other node is left (tried last, never dropped).
 */
class PartitionMapTest {
  static final int PARTITIONS = 8;

  /** Partition p lives on nodes p%3+1, (p+1)%3+1, (p+2)%3+1 and is led by the first, except p=3. */
  static PartitionsResponse partitions(long epoch) {
    PartitionLayout layout = PartitionLayout.of(PARTITIONS);
    PartitionsResponse.Builder response =
        PartitionsResponse.newBuilder().setMapEpoch(epoch).setPartitionCount(PARTITIONS);
    for (int p = 0; p < PARTITIONS; p++) {
      List<Long> replicas =
          List.of((long) p % 3 + 1, (long) (p + 1) % 3 + 1, (long) (p + 2) % 3 + 1);
      response.addPartitions(
          PartitionInfo.newBuilder()
              .setId(p)
              .setHashStart(layout.rangeStart(p))
              .setHashEnd(layout.rangeEnd(p))
              .addAllReplicas(replicas)
              .setLeaderNodeId(p == 3 ? 0 : replicas.get(0)));
    }
    return response.build();
  }

  static MembersResponse members() {
    MembersResponse.Builder response = MembersResponse.newBuilder();
    for (long id = 1; id <= 3; id++) {
      response.addMembers(
          Member.newBuilder().setNodeId(id).setClientAddress("127.0.0." + (10 + id) + ":7379"));
    }
    return response.build();
  }

  static String address(long node) {
    return "127.0.0." + (10 + node) + ":7379";
  }

  @Test
  void keysGoToTheirPartitionsLeaderFirst() {
    PartitionMap map = PartitionMap.of(partitions(4), members());
    PartitionLayout layout = PartitionLayout.of(PARTITIONS);
    int checked = 0;
    for (int i = 0; i < 200; i++) {
      byte[] key = ("key-" + i).getBytes(StandardCharsets.UTF_8);
      int partition = layout.partitionOfHash(KeyHasher.hashKey(key));
      assertThat(map.partitionOf(key)).isEqualTo(partition);
      List<String> candidates = map.candidatesFor(key);
      long first = (long) partition % 3 + 1;
      if (partition == 3) {
        assertThat(map.leaderFor(key)).isNull();
        assertThat(candidates).containsExactly(address(1), address(2), address(3));
      } else {
        assertThat(map.leaderFor(key)).isEqualTo(address(first));
        assertThat(candidates).first().isEqualTo(address(first));
        assertThat(candidates).hasSize(3).doesNotHaveDuplicates();
      }
      checked++;
    }
    assertThat(checked).isEqualTo(200);
  }

  @Test
  void hashTagsCoLocate() {
    PartitionMap map = PartitionMap.of(partitions(1), members());
    for (int i = 0; i < 50; i++) {
      assertThat(map.partitionOf(("user:{42}:field" + i).getBytes(StandardCharsets.UTF_8)))
          .isEqualTo(map.partitionOf("{42}".getBytes(StandardCharsets.UTF_8)));
    }
  }

  @Test
  void leaderHintsMoveOnePartition() {
    PartitionMap map = PartitionMap.of(partitions(1), members()).withLeader(3, 2);
    assertThat(map.partition(3).getLeaderNodeId()).isEqualTo(2);
    assertThat(map.partition(4).getLeaderNodeId()).isEqualTo(2); // 4%3+1, unchanged
    assertThat(map.epoch()).isEqualTo(1);
  }

  @Test
  void inconsistentMapsAreRefused() {
    PartitionsResponse missing = partitions(1).toBuilder().removePartitions(PARTITIONS - 1).build();
    assertThatThrownBy(() -> PartitionMap.of(missing, members()))
        .hasMessageContaining("lacks partition 7");
    PartitionsResponse shifted =
        partitions(1).toBuilder()
            .setPartitions(0, partitions(1).getPartitions(0).toBuilder().setHashEnd(5))
            .build();
    assertThatThrownBy(() -> PartitionMap.of(shifted, members()))
        .hasMessageContaining("does not match a layout of 8");
    PartitionsResponse notPowerOfTwo = partitions(1).toBuilder().setPartitionCount(6).build();
    assertThatThrownBy(() -> PartitionMap.of(notPowerOfTwo, members()))
        .hasMessageContaining("power of two");
  }

  @Test
  void aMemberGossipHoldsDeadIsTriedLastOfAll() {
    MembersResponse.Builder members = members().toBuilder();
    members.setMembers(0, members.getMembers(0).toBuilder().setState(Member.State.DEAD));
    Router router = new Router(List.of(address(1), address(2)), null, 0);
    router.install(PartitionMap.of(partitions(4), members.build()));
    PartitionLayout layout = PartitionLayout.of(PARTITIONS);
    byte[] key = null;
    for (int i = 0; key == null; i++) {
      byte[] candidate = ("k" + i).getBytes(StandardCharsets.UTF_8);
      if (layout.partitionOfKey(candidate) == 0) {
        key = candidate; // partition 0 is led by node 1, the dead one
      }
    }
    assertThat(router.candidates(key)).containsExactly(address(2), address(3), address(1));
    assertThat(router.candidates(null)).containsExactly(address(2), address(3), address(1));
  }
}
