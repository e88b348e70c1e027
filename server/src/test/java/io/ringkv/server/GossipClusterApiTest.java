package io.ringkv.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.ringkv.proto.v1.Member;
import io.ringkv.proto.v1.MembersRequest;
import io.ringkv.proto.v1.MembersResponse;
import io.ringkv.proto.v1.StatusRequest;
import io.ringkv.proto.v1.StatusResponse;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three real nodes on 127.0.0.227-229 (the gossip tests' range) with gossip on, as the node starts
 * it: proves that each node's Cluster API reports every member's gossip state, incarnation and time
 * since heard, and its own gossip preset and health; that the gossip meters are exported; and that
 * a node closed cleanly is reported LEFT by the others (it says goodbye before its sockets close)
 * rather than suspected.
 */
class GossipClusterApiTest {
  private static final String[] HOSTS = {"127.0.0.227", "127.0.0.228", "127.0.0.229"};

  @TempDir Path dataDir;

  private static MembersResponse members(RealTestCluster cluster, int node) {
    return cluster
        .cluster[node]
        .withDeadlineAfter(5, TimeUnit.SECONDS)
        .members(MembersRequest.getDefaultInstance());
  }

  private static Member.State stateOf(RealTestCluster cluster, int observer, long subject) {
    return members(cluster, observer).getMembersList().stream()
        .filter(member -> member.getNodeId() == subject)
        .findFirst()
        .orElseThrow()
        .getState();
  }

  @Test
  void everyNodeReportsGossipStatesAndACleanlyClosedNodeIsLeft() throws Exception {
    try (RealTestCluster cluster = new RealTestCluster(dataDir, HOSTS, 4)) {
      LocalTestCluster.awaitTrue(
          "every node sees every member alive by gossip",
          RealTestCluster.WAIT_SECONDS,
          () -> {
            for (int node = 0; node < HOSTS.length; node++) {
              for (Member member : members(cluster, node).getMembersList()) {
                if (member.getState() != Member.State.ALIVE) {
                  return false;
                }
              }
            }
            return true;
          });
      MembersResponse seenBy1 = members(cluster, 0);
      assertThat(seenBy1.getNodeId()).isEqualTo(1);
      assertThat(seenBy1.getMembersList()).hasSize(3);
      for (Member member : seenBy1.getMembersList()) {
        assertThat(member.getMillisSinceHeard()).as("node %d", member.getNodeId()).isNotNegative();
        assertThat(member.getDegraded()).isFalse();
      }
      StatusResponse status =
          cluster
              .cluster[1]
              .withDeadlineAfter(5, TimeUnit.SECONDS)
              .status(StatusRequest.getDefaultInstance());
      assertThat(status.getGossipEnabled()).isTrue();
      assertThat(status.getGossipPreset()).isEqualTo("lan");
      assertThat(status.getMembersCount()).isEqualTo(3);
      assertThat(status.getSlow()).isFalse();
      String metrics = cluster.nodes[0].registry().scrape();
      assertThat(metrics)
          .contains("ringkv_gossip_members{state=\"alive\"} 3.0")
          .contains("ringkv_gossip_probes_total")
          .contains("ringkv_gossip_datagrams_dropped_total{reason=\"foreign_cluster\"}");

      cluster.nodes[2].close();
      LocalTestCluster.awaitTrue(
          "nodes 1 and 2 report node 3 LEFT",
          RealTestCluster.WAIT_SECONDS,
          () ->
              stateOf(cluster, 0, 3) == Member.State.LEFT
                  && stateOf(cluster, 1, 3) == Member.State.LEFT);
    }
  }
}
