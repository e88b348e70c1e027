package io.ringkv.server.ring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ringkv.routing.PartitionLayout;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Proves the placement properties the cluster relies on: it is a pure function of the member set,
 * every partition gets RF distinct members, load is spread fairly evenly, and adding a fifth node
 * to four moves about a fifth of the replica slots, all of them onto the new node.
 */
class PlacementTest {
  private static final PartitionLayout LAYOUT = PartitionLayout.of(256);
  private static final int TOKENS = 64;

  @Test
  void isDeterministicAndIndependentOfMemberOrder() {
    Placement first = new Placement(Set.of(1L, 2L, 3L, 4L), TOKENS, 3);
    Placement second = new Placement(new HashSet<>(List.of(4L, 3L, 2L, 1L)), TOKENS, 3);
    assertThat(first.assign(LAYOUT)).isEqualTo(second.assign(LAYOUT));
    // Pinned: a change to the token function or the ring walk would silently move data.
    assertThat(Placement.tokenOf(1, 0)).isEqualTo(Placement.tokenOf(1, 0));
    assertThat(Placement.tokenOf(1, 0)).isNotEqualTo(Placement.tokenOf(1, 1));
    assertThat(Placement.tokenOf(1, 0)).isNotEqualTo(Placement.tokenOf(2, 0));
  }

  @Test
  void everyPartitionHasReplicationFactorDistinctMembers() {
    Set<Long> nodes = Set.of(1L, 2L, 3L, 4L, 5L);
    Placement placement = new Placement(nodes, TOKENS, 3);
    for (List<Long> replicas : placement.assign(LAYOUT)) {
      assertThat(replicas).hasSize(3).doesNotHaveDuplicates();
      assertThat(nodes).containsAll(replicas);
    }
  }

  @Test
  void replicationFactorEqualToNodeCountUsesEveryNode() {
    Placement placement = new Placement(Set.of(7L, 8L, 9L), TOKENS, 3);
    for (List<Long> replicas : placement.assign(LAYOUT)) {
      assertThat(replicas).containsExactlyInAnyOrder(7L, 8L, 9L);
    }
  }

  @Test
  void singleNodeOwnsEverything() {
    Placement placement = new Placement(Set.of(1L), 1, 1);
    assertThat(placement.assign(PartitionLayout.of(8))).allMatch(r -> r.equals(List.of(1L)));
  }

  @Test
  void spreadsReplicasFairlyEvenly() {
    Placement placement = new Placement(Set.of(1L, 2L, 3L, 4L, 5L), TOKENS, 3);
    Map<Long, Integer> slotsPerNode = new HashMap<>();
    Map<Long, Integer> firstReplicaPerNode = new HashMap<>();
    for (List<Long> replicas : placement.assign(LAYOUT)) {
      replicas.forEach(node -> slotsPerNode.merge(node, 1, Integer::sum));
      firstReplicaPerNode.merge(replicas.get(0), 1, Integer::sum);
    }
    double fairSlots = 256.0 * 3 / 5;
    assertThat(slotsPerNode).hasSize(5);
    slotsPerNode.forEach((node, slots) ->
        assertThat(slots)
            .as("slots of node %d", node)
            .isBetween((int) (fairSlots * 0.7), (int) (fairSlots * 1.3)));
    double fairFirst = 256.0 / 5;
    firstReplicaPerNode.forEach((node, count) ->
        assertThat(count)
            .as("first replicas of node %d", node)
            .isBetween((int) (fairFirst * 0.5), (int) (fairFirst * 1.5)));
  }

  @Test
  void addingAFifthNodeMovesAboutAFifthOfReplicaSlotsOnlyOntoIt() {
    List<List<Long>> before = new Placement(Set.of(1L, 2L, 3L, 4L), TOKENS, 3).assign(LAYOUT);
    List<List<Long>> after = new Placement(Set.of(1L, 2L, 3L, 4L, 5L), TOKENS, 3).assign(LAYOUT);
    int moved = 0;
    for (int partition = 0; partition < LAYOUT.partitionCount(); partition++) {
      Set<Long> added = new HashSet<>(after.get(partition));
      added.removeAll(before.get(partition));
      Set<Long> removed = new HashSet<>(before.get(partition));
      removed.removeAll(after.get(partition));
      // A replica only ever moves to the new node; nothing shuffles between old nodes.
      assertThat(added).isSubsetOf(Set.of(5L));
      assertThat(removed).hasSameSizeAs(added);
      moved += added.size();
    }
    double movedFraction = moved / (256.0 * 3);
    System.out.printf("adding node 5 of 5 moved %.3f of replica slots%n", movedFraction);
    assertThat(movedFraction).isBetween(0.10, 0.32);
  }

  @Test
  void firstTokenFromIsTheNodesNextTokenClockwiseWrappingAtTheTop() {
    long node = 4;
    List<Long> sorted = new java.util.ArrayList<>();
    for (int tokenNumber = 0; tokenNumber < TOKENS; tokenNumber++) {
      sorted.add(Placement.tokenOf(node, tokenNumber));
    }
    sorted.sort(Long::compareUnsigned);
    List<Long> positions = new java.util.ArrayList<>(List.of(0L, -1L, sorted.get(3)));
    for (int partition = 0; partition < LAYOUT.partitionCount(); partition++) {
      positions.add(LAYOUT.rangeStart(partition));
    }
    for (long position : positions) {
      // Independent of the method: the first sorted token at or after the position, else the
      // lowest (the walk wraps past 2^64 - 1).
      long expected = sorted.get(0);
      for (long token : sorted) {
        if (Long.compareUnsigned(token, position) >= 0) {
          expected = token;
          break;
        }
      }
      assertThat(Placement.firstTokenFrom(node, TOKENS, position))
          .as("position %s", Long.toUnsignedString(position))
          .isEqualTo(expected);
    }
  }

  @Test
  void rejectsInvalidArguments() {
    assertThatThrownBy(() -> new Placement(Set.of(), TOKENS, 1))
        .hasMessageContaining("at least one node");
    assertThatThrownBy(() -> new Placement(Set.of(1L, 2L), TOKENS, 3))
        .hasMessageContaining("replication factor");
    assertThatThrownBy(() -> new Placement(Set.of(1L), 0, 1))
        .hasMessageContaining("virtual tokens");
    assertThatThrownBy(() -> new Placement(Set.of(0L), 1, 1)).hasMessageContaining("> 0");
  }
}
