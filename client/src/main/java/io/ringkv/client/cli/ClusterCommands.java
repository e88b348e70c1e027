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

/** {@code ringctl cluster status | partitions}. */
@Command(
    name = "cluster",
    description = "Cluster inspection.",
    subcommands = {ClusterCommands.StatusCommand.class, ClusterCommands.PartitionsCommand.class})
final class ClusterCommands implements Callable<Integer> {
  @ParentCommand RingCtl root;

  @Override
  public Integer call() {
    root.err().println("ringctl: cluster needs a subcommand: status or partitions");
    return RingCtl.EXIT_ERROR;
  }

  /** What one member said, or that it did not answer. */
  record MemberView(Member member, StatusResponse status, String error, int leads, int follows) {}

  @Command(
      name = "status",
      description = "Each member: does it answer, how many partitions it leads and follows.")
  static final class StatusCommand implements Callable<Integer> {
    @ParentCommand ClusterCommands cluster;

    @Override
    public Integer call() {
      RingCtl root = cluster.root;
      return root.withClient(client -> {
        MembersResponse members = BlockingRingKvClient.await(client.cluster().members());
        PartitionsResponse partitions = BlockingRingKvClient.await(client.cluster().partitions());
        List<MemberView> views = new ArrayList<>();
        Map<String, CompletableFuture<StatusResponse>> asked = new LinkedHashMap<>();
        for (Member member : members.getMembersList()) {
          asked.put(
              member.getClientAddress(), client.cluster().statusOf(member.getClientAddress()));
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
          try {
            status = asked.get(member.getClientAddress()).join();
          } catch (RuntimeException e) {
            error = Status.fromThrowable(e).getCode().name();
          }
          views.add(new MemberView(member, status, error, leads, follows));
        }
        String kv = probeKv(client, members);
        long answering = views.stream().filter(v -> v.status() != null).count();
        StatusResponse any =
            views.stream().map(MemberView::status).filter(s -> s != null).findFirst().orElse(null);
        if (root.json()) {
          root.out().println(Json.write(statusJson(views, any, partitions, kv)));
        } else {
          printStatusTable(root, views, any, partitions, kv);
        }
        return answering == views.size() ? RingCtl.EXIT_OK : RingCtl.EXIT_ERROR;
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
      List<MemberView> views, StatusResponse any, PartitionsResponse partitions, String kv) {
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("cluster_id", any == null ? null : any.getClusterId());
    json.put("map_epoch", partitions.getMapEpoch());
    json.put("partition_count", partitions.getPartitionCount());
    json.put("replication_factor", any == null ? null : any.getReplicationFactor());
    json.put("kv_service", kv);
    List<Object> members = new ArrayList<>();
    for (MemberView view : views) {
      Map<String, Object> member = new LinkedHashMap<>();
      member.put("node_id", view.member().getNodeId());
      member.put("client_address", view.member().getClientAddress());
      member.put("state", view.member().getState().name());
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

  private static void printStatusTable(
      RingCtl root,
      List<MemberView> views,
      StatusResponse any,
      PartitionsResponse partitions,
      String kv) {
    root.out()
        .printf(
            "cluster %s  map epoch %d  partitions %d  replication %s  kv service %s%n",
            any == null ? "?" : any.getClusterId(),
            partitions.getMapEpoch(),
            partitions.getPartitionCount(),
            any == null ? "?" : Integer.toString(any.getReplicationFactor()),
            kv);
    root.out()
        .printf(
            "%-6s %-22s %-8s %-9s %6s %8s%n",
            "NODE", "ADDRESS", "STATE", "ANSWERS", "LEADS", "FOLLOWS");
    for (MemberView view : views) {
      root.out()
          .printf(
              "%-6d %-22s %-8s %-9s %6d %8d%n",
              view.member().getNodeId(),
              view.member().getClientAddress(),
              stateName(view.member().getState()),
              view.status() != null ? "yes" : "no (" + view.error() + ")",
              view.leads(),
              view.follows());
    }
  }

  private static String stateName(Member.State state) {
    return state == Member.State.STATE_UNSPECIFIED ? "unknown" : state.name().toLowerCase();
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
