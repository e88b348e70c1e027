package io.ringkv.client.cli;

import io.grpc.Status;
import io.ringkv.client.BlockingRingKvClient;
import io.ringkv.client.RingKvClient;
import io.ringkv.proto.v1.Member;
import io.ringkv.proto.v1.MembersResponse;
import io.ringkv.proto.v1.PartitionInfo;
import io.ringkv.proto.v1.PartitionsResponse;
import io.ringkv.proto.v1.StatusResponse;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;

/**
 * {@code ringctl cluster status | members | partitions}, and the membership changes of {@link
 * ClusterChangeCommands}.
 */
@Command(
    name = "cluster",
    description = "Cluster inspection and membership changes.",
    subcommands = {
      ClusterCommands.StatusCommand.class,
      ClusterCommands.MembersCommand.class,
      ClusterCommands.PartitionsCommand.class,
      ClusterChangeCommands.Join.class,
      ClusterChangeCommands.Decommission.class,
      ClusterChangeCommands.Remove.class,
      ClusterChangeCommands.Plan.class
    })
final class ClusterCommands implements Callable<Integer> {
  @ParentCommand RingCtl root;

  @Override
  public Integer call() {
    root.err()
        .println(
            "ringctl: cluster needs a subcommand: status, members, partitions, join, decommission,"
                + " remove or plan");
    return RingCtl.EXIT_ERROR;
  }

  /** What one member said, or that it did not answer. */
  record MemberView(Member member, StatusResponse status, String error, int leads, int follows) {}

  @Command(
      name = "status",
      description =
          "The map epoch, replica moves in progress and under-replicated partitions; each member:"
              + " its state in the cluster map, gossip state, incarnation and time since heard as"
              + " the answering node sees them; its own health score and slow flag; does it"
              + " answer; partitions it leads and follows.")
  static final class StatusCommand implements Callable<Integer> {
    @ParentCommand ClusterCommands cluster;

    @Override
    public Integer call() {
      RingCtl root = cluster.root;
      return root.withClient(client -> {
        MembersResponse members = BlockingRingKvClient.await(client.cluster().members());
        StatusResponse viewer = BlockingRingKvClient.await(client.cluster().status());
        if (viewer.getMembersCount() > 0) {
          // One node's view for every member's state, incarnation and time since heard.
          members =
              MembersResponse.newBuilder(members)
                  .clearMembers()
                  .addAllMembers(viewer.getMembersList())
                  .setNodeId(viewer.getNodeId())
                  .build();
        }
        PartitionsResponse partitions = BlockingRingKvClient.await(client.cluster().partitions());
        List<MemberView> views = new ArrayList<>();
        Map<String, CompletableFuture<StatusResponse>> asked = new LinkedHashMap<>();
        for (Member member : members.getMembersList()) {
          if (!removed(member)) {
            asked.put(
                member.getClientAddress(), client.cluster().statusOf(member.getClientAddress()));
          }
        }
        for (Member member : members.getMembersList()) {
          int leads = 0;
          int follows = 0;
          for (PartitionInfo info : partitions.getPartitionsList()) {
            if (info.getLeaderNodeId() == member.getNodeId()) {
              leads++;
            } else if (info.getReplicasList().contains(member.getNodeId())) {
              follows++;
            }
          }
          StatusResponse status = null;
          String error = null;
          if (removed(member)) {
            error = "removed"; // not asked: gone from the cluster for good
          } else {
            try {
              status = asked.get(member.getClientAddress()).join();
            } catch (RuntimeException e) {
              error = Status.fromThrowable(e).getCode().name();
            }
          }
          views.add(new MemberView(member, status, error, leads, follows));
        }
        String kv = probeKv(client, members);
        long answering = views.stream().filter(v -> v.status() != null).count();
        long expected = views.stream().filter(v -> !removed(v.member())).count();
        if (root.json()) {
          root.out().println(Json.write(statusJson(views, viewer, partitions, kv)));
        } else {
          printStatusTable(root, views, viewer, partitions, kv);
        }
        return answering == expected ? RingCtl.EXIT_OK : RingCtl.EXIT_ERROR;
      });
    }
  }

  /** "serving" or "missing" (UNIMPLEMENTED) on the first member, or why it could not tell. */
  static String probeKv(RingKvClient client, MembersResponse members) {
    String address =
        members.getMembersCount() > 0
            ? members.getMembers(0).getClientAddress()
            : client.endpoints().get(0);
    try {
      return BlockingRingKvClient.await(client.cluster().kvServiceOffered(address))
          ? "serving"
          : "missing";
    } catch (RuntimeException e) {
      return "unknown (" + e.getMessage() + ")";
    }
  }

  private static Map<String, Object> statusJson(
      List<MemberView> views, StatusResponse viewer, PartitionsResponse partitions, String kv) {
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("cluster_id", viewer.getClusterId());
    json.put("map_epoch", partitions.getMapEpoch());
    json.put("partition_count", partitions.getPartitionCount());
    json.put("replication_factor", viewer.getReplicationFactor());
    json.put("kv_service", kv);
    json.put("seen_by", viewer.getNodeId());
    json.put("gossip", viewer.getGossipEnabled() ? viewer.getGossipPreset() : "off");
    json.put("under_replicated_partitions", viewer.getUnderReplicatedPartitions());
    json.put("moves", ClusterChangeCommands.movesJson(viewer.getMovesList()));
    List<Object> members = new ArrayList<>();
    for (MemberView view : views) {
      Map<String, Object> member = gossipJson(view.member());
      if (view.status() != null) {
        member.put("local_health_score", view.status().getLocalHealthScore());
        member.put("slow", view.status().getSlow());
      }
      member.put("answers", view.status() != null);
      if (view.error() != null) {
        member.put("error", view.error());
      }
      member.put("leads", view.leads());
      member.put("follows", view.follows());
      members.add(member);
    }
    json.put("members", members);
    return json;
  }

  /** A member's gossip fields, as one node sees them. */
  private static Map<String, Object> gossipJson(Member member) {
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("node_id", member.getNodeId());
    json.put("client_address", member.getClientAddress());
    json.put("peer_address", member.getPeerAddress());
    json.put("map_state", member.getMapState());
    json.put("replicas", member.getReplicas());
    json.put("state", member.getState().name());
    json.put("incarnation", member.getIncarnation());
    json.put("millis_since_heard", member.getMillisSinceHeard());
    json.put("degraded", member.getDegraded());
    return json;
  }

  private static void printStatusTable(
      RingCtl root,
      List<MemberView> views,
      StatusResponse viewer,
      PartitionsResponse partitions,
      String kv) {
    root.out()
        .printf(
            "cluster %s  map epoch %d  partitions %d  replication %s  kv service %s%n",
            viewer.getClusterId(),
            partitions.getMapEpoch(),
            partitions.getPartitionCount(),
            Integer.toString(viewer.getReplicationFactor()),
            kv);
    root.out()
        .printf(
            "states as seen by node %d (gossip %s)%n",
            viewer.getNodeId(), viewer.getGossipEnabled() ? viewer.getGossipPreset() : "off");
    root.out()
        .printf(
            "%-6s %-22s %-15s %-8s %5s %8s %6s %-5s %-9s %6s %8s%n",
            "NODE", "ADDRESS", "MAP", "STATE", "INC", "HEARD", "HEALTH", "SLOW", "ANSWERS", "LEADS",
            "FOLLOWS");
    for (MemberView view : views) {
      Member member = view.member();
      root.out()
          .printf(
              "%-6d %-22s %-15s %-8s %5d %8s %6s %-5s %-9s %6d %8d%n",
              member.getNodeId(),
              member.getClientAddress(),
              mapState(member),
              stateName(member.getState()),
              member.getIncarnation(),
              heard(member.getMillisSinceHeard()),
              view.status() == null ? "?" : Integer.toString(view.status().getLocalHealthScore()),
              view.status() == null ? "?" : (view.status().getSlow() ? "yes" : "no"),
              view.status() != null ? "yes" : "no (" + view.error() + ")",
              view.leads(),
              view.follows());
    }
    printMovesInProgress(root.out(), viewer);
  }

  /** The moves in progress as the answering node's map has them, and under-replication. */
  static void printMovesInProgress(java.io.PrintWriter out, StatusResponse viewer) {
    out.printf(
        "replica moves in progress: %d  under-replicated partitions: %d%n",
        viewer.getMovesCount(), viewer.getUnderReplicatedPartitions());
    ClusterChangeCommands.printMoves(out, viewer.getMovesList(), true);
  }

  /** Whether the cluster map holds the member REMOVED (it is not expected to answer). */
  static boolean removed(Member member) {
    return "removed".equals(member.getMapState());
  }

  /** The member's map state, or "-" from a node that does not report one. */
  private static String mapState(Member member) {
    return member.getMapState().isEmpty() ? "-" : member.getMapState();
  }

  private static String heard(long millis) {
    return millis < 0 ? "never" : String.format("%.1fs", millis / 1000.0);
  }

  private static String stateName(Member.State state) {
    return state == Member.State.STATE_UNSPECIFIED ? "unknown" : state.name().toLowerCase();
  }

  @Command(
      name = "members",
      description =
          "Every member as the answering node's gossip sees it: state, incarnation, time since"
              + " heard, and whether it says it is slow.")
  static final class MembersCommand implements Callable<Integer> {
    @ParentCommand ClusterCommands cluster;

    @Override
    public Integer call() {
      RingCtl root = cluster.root;
      return root.withClient(client -> {
        MembersResponse response = BlockingRingKvClient.await(client.cluster().members());
        if (root.json()) {
          Map<String, Object> json = new LinkedHashMap<>();
          json.put("map_epoch", response.getMapEpoch());
          json.put("seen_by", response.getNodeId());
          List<Object> list = new ArrayList<>();
          response.getMembersList().forEach(member -> list.add(gossipJson(member)));
          json.put("members", list);
          root.out().println(Json.write(json));
          return RingCtl.EXIT_OK;
        }
        root.out()
            .printf(
                "as seen by node %d (map epoch %d)%n",
                response.getNodeId(), response.getMapEpoch());
        root.out()
            .printf(
                "%-6s %-22s %-22s %-15s %8s %-8s %5s %8s %-8s%n",
                "NODE", "CLIENT", "PEER", "MAP", "REPLICAS", "STATE", "INC", "HEARD", "DEGRADED");
        for (Member member : response.getMembersList()) {
          root.out()
              .printf(
                  "%-6d %-22s %-22s %-15s %8d %-8s %5d %8s %-8s%n",
                  member.getNodeId(),
                  member.getClientAddress(),
                  member.getPeerAddress(),
                  mapState(member),
                  member.getReplicas(),
                  stateName(member.getState()),
                  member.getIncarnation(),
                  heard(member.getMillisSinceHeard()),
                  member.getDegraded() ? "yes" : "no");
        }
        return RingCtl.EXIT_OK;
      });
    }
  }

  @Command(name = "partitions", description = "The partition map: ranges, replicas, leaders.")
  static final class PartitionsCommand implements Callable<Integer> {
    @ParentCommand ClusterCommands cluster;

    @Override
    public Integer call() {
      RingCtl root = cluster.root;
      return root.withClient(client -> {
        PartitionsResponse response = BlockingRingKvClient.await(client.cluster().partitions());
        if (root.json()) {
          Map<String, Object> json = new LinkedHashMap<>();
          json.put("map_epoch", response.getMapEpoch());
          json.put("partition_count", response.getPartitionCount());
          List<Object> list = new ArrayList<>();
          for (PartitionInfo info : response.getPartitionsList()) {
            Map<String, Object> p = new LinkedHashMap<>();
            p.put("id", info.getId());
            p.put("hash_start", Long.toUnsignedString(info.getHashStart()));
            p.put("hash_end", Long.toUnsignedString(info.getHashEnd()));
            p.put("replicas", new ArrayList<Object>(info.getReplicasList()));
            p.put("leader", info.getLeaderNodeId());
            p.put("term", info.getTerm());
            p.put("commit_index", info.getCommitIndex());
            p.put("applied_index", info.getAppliedIndex());
            list.add(p);
          }
          json.put("partitions", list);
          root.out().println(Json.write(json));
        } else {
          root.out()
              .printf(
                  "%-5s %-18s %-18s %-12s %-7s %6s %8s%n",
                  "ID", "HASH START", "HASH END", "REPLICAS", "LEADER", "TERM", "APPLIED");
          for (PartitionInfo info : response.getPartitionsList()) {
            root.out()
                .printf(
                    "%-5d %016x   %016x   %-12s %-7s %6d %8d%n",
                    info.getId(),
                    info.getHashStart(),
                    info.getHashEnd(),
                    info.getReplicasList().stream()
                        .map(String::valueOf)
                        .collect(Collectors.joining(",")),
                    info.getLeaderNodeId() == 0 ? "-" : Long.toString(info.getLeaderNodeId()),
                    info.getTerm(),
                    info.getAppliedIndex());
          }
        }
        return RingCtl.EXIT_OK;
      });
    }
  }
}
