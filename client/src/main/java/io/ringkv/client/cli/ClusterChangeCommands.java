package io.ringkv.client.cli;

import io.ringkv.client.BlockingRingKvClient;
import io.ringkv.proto.v1.AddNodeResponse;
import io.ringkv.proto.v1.PlanResponse;
import io.ringkv.proto.v1.PlannedMove;
import io.ringkv.proto.v1.RemoveNodeResponse;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/**
 * {@code ringctl cluster join | decommission | remove --dead | plan}: membership changes, decided
 * by the cluster's meta group (any node passes them on), and the dry run that shows what a change
 * would move. A change answers once it is recorded; its replica moves run in the background and
 * show in {@code ringctl cluster status}.
 */
final class ClusterChangeCommands {
  private ClusterChangeCommands() {}

  @Command(
      name = "join",
      description =
          "Adds the running node at ADDRESS (started with --join) to the cluster; replicas move to"
              + " it in the background (see cluster status).")
  static final class Join implements Callable<Integer> {
    @ParentCommand ClusterCommands cluster;

    @Parameters(
        index = "0",
        paramLabel = "ADDRESS",
        description = "the new node's client host:port")
    String address;

    @Override
    public Integer call() {
      RingCtl root = cluster.root;
      return root.withClient(client -> {
        AddNodeResponse response = BlockingRingKvClient.await(client.cluster().addNode(address));
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("node_id", response.getNodeId());
        return printChange(
            root,
            json,
            "node " + response.getNodeId() + " at " + address + " joined",
            response.getMapEpoch(),
            response.getMovesList());
      });
    }
  }

  @Command(
      name = "decommission",
      description =
          "Moves every replica off node NODE while it still serves, then removes it. Refused when"
              + " the nodes left could not hold the replication factor.")
  static final class Decommission implements Callable<Integer> {
    @ParentCommand ClusterCommands cluster;

    @Parameters(index = "0", paramLabel = "NODE", description = "node id")
    long nodeId;

    @Override
    public Integer call() {
      return remove(cluster.root, nodeId, false);
    }
  }

  @Command(
      name = "remove",
      description =
          "Removes node NODE that will not come back (--dead is required): it is removed at once"
              + " and its replicas are re-created on the ring's next owners.")
  static final class Remove implements Callable<Integer> {
    @ParentCommand ClusterCommands cluster;

    @Parameters(index = "0", paramLabel = "NODE", description = "node id")
    long nodeId;

    @Option(
        names = "--dead",
        required = true,
        description = "the node is gone for good (to move replicas off a live node: decommission)")
    boolean dead;

    @Override
    public Integer call() {
      return remove(cluster.root, nodeId, true);
    }
  }

  private static int remove(RingCtl root, long nodeId, boolean dead) {
    return root.withClient(client -> {
      RemoveNodeResponse response =
          BlockingRingKvClient.await(client.cluster().removeNode(nodeId, dead));
      Map<String, Object> json = new LinkedHashMap<>();
      json.put("node_id", nodeId);
      json.put("dead", dead);
      return printChange(
          root,
          json,
          "node " + nodeId + (dead ? " removed as dead" : " is being decommissioned"),
          response.getMapEpoch(),
          response.getMovesList());
    });
  }

  /** A recorded change: its headline and moves as a table, or {@code json} with both added. */
  private static int printChange(
      RingCtl root,
      Map<String, Object> json,
      String headline,
      long mapEpoch,
      List<PlannedMove> moves) {
    if (root.json()) {
      json.put("map_epoch", mapEpoch);
      json.put("moves", movesJson(moves));
      root.out().println(Json.write(json));
    } else {
      root.out()
          .printf(
              "%s (map epoch %d); %d replica moves planned%n", headline, mapEpoch, moves.size());
      printMoves(root.out(), moves, false);
    }
    return RingCtl.EXIT_OK;
  }

  @Command(
      name = "plan",
      description =
          "A dry run: the replica slots a join or a removal would move, from where to where, why"
              + " (the ring token that owns the slot) and about how many bytes. With neither"
              + " option: the moves the cluster still needs and has not started (none when the"
              + " ring is balanced).")
  static final class Plan implements Callable<Integer> {
    @ParentCommand ClusterCommands cluster;

    @ArgGroup(multiplicity = "0..1")
    Change change;

    static final class Change {
      @Option(names = "--join", paramLabel = "ADDRESS", description = "a node to join")
      String joinAddress;

      @Option(names = "--remove", paramLabel = "NODE", description = "a node to remove")
      Long removeNodeId;
    }

    @Override
    public Integer call() {
      RingCtl root = cluster.root;
      return root.withClient(client -> {
        PlanResponse plan =
            BlockingRingKvClient.await(
                change == null
                    ? client.cluster().planPending()
                    : change.joinAddress != null
                        ? client.cluster().planJoin(change.joinAddress)
                        : client.cluster().planRemove(change.removeNodeId));
        if (root.json()) {
          root.out().println(Json.write(planJson(plan)));
        } else {
          printPlan(root.out(), plan);
        }
        return plan.getRefusal().isEmpty() ? RingCtl.EXIT_OK : RingCtl.EXIT_ERROR;
      });
    }
  }

  static Map<String, Object> planJson(PlanResponse plan) {
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("map_epoch", plan.getMapEpoch());
    json.put("moves", movesJson(plan.getMovesList()));
    json.put("slots_total", plan.getSlotsTotal());
    json.put("slots_moved", plan.getMovesCount());
    json.put("theoretical_share", plan.getTheoreticalShare());
    json.put("bytes_total", bytesTotal(plan.getMovesList()));
    if (!plan.getRefusal().isEmpty()) {
      json.put("refusal", plan.getRefusal());
    }
    return json;
  }

  /** The plan's table, then totals against the ring's theoretical share, or the refusal. */
  static void printPlan(PrintWriter out, PlanResponse plan) {
    if (!plan.getRefusal().isEmpty()) {
      out.printf("refused: %s%n", plan.getRefusal());
      return;
    }
    out.printf("plan at map epoch %d%n", plan.getMapEpoch());
    printMoves(out, plan.getMovesList(), false);
    double movedShare =
        plan.getSlotsTotal() == 0 ? 0 : (double) plan.getMovesCount() / plan.getSlotsTotal();
    out.printf(
        "%d of %d replica slots move (%.1f%%; theoretical share %.1f%%), about %s%n",
        plan.getMovesCount(),
        plan.getSlotsTotal(),
        100 * movedShare,
        100 * plan.getTheoreticalShare(),
        bytes(bytesTotal(plan.getMovesList())));
  }

  /** One row per move: partition, from, to, (phase), bytes, reason; "-" for a node 0. */
  static void printMoves(PrintWriter out, List<PlannedMove> moves, boolean withPhase) {
    if (moves.isEmpty()) {
      return;
    }
    String phaseHeader = withPhase ? String.format(" %-11s", "PHASE") : "";
    out.printf(
        "%-9s %-5s %-5s%s %10s  %s%n", "PARTITION", "FROM", "TO", phaseHeader, "BYTES", "REASON");
    for (PlannedMove move : moves) {
      String phase = withPhase ? String.format(" %-11s", move.getPhase()) : "";
      out.printf(
          "%-9d %-5s %-5s%s %10s  %s%n",
          move.getPartition(),
          node(move.getFromNodeId()),
          node(move.getToNodeId()),
          phase,
          bytes(move.getBytesEstimate()),
          move.getReason());
    }
  }

  static List<Object> movesJson(List<PlannedMove> moves) {
    List<Object> list = new ArrayList<>();
    for (PlannedMove move : moves) {
      Map<String, Object> json = new LinkedHashMap<>();
      json.put("partition", move.getPartition());
      json.put("from", move.getFromNodeId());
      json.put("to", move.getToNodeId());
      if (!move.getPhase().isEmpty()) {
        json.put("phase", move.getPhase());
      }
      json.put("bytes_estimate", move.getBytesEstimate());
      json.put("reason", move.getReason());
      list.add(json);
    }
    return list;
  }

  private static long bytesTotal(List<PlannedMove> moves) {
    return moves.stream().mapToLong(PlannedMove::getBytesEstimate).sum();
  }

  private static String node(long nodeId) {
    return nodeId == 0 ? "-" : Long.toString(nodeId);
  }

  /** Bytes in B, KiB, MiB or GiB, one decimal above B. */
  static String bytes(long bytes) {
    String[] units = {"KiB", "MiB", "GiB", "TiB"};
    if (bytes < 1024) {
      return bytes + " B";
    }
    double value = bytes;
    int unit = -1;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit++;
    }
    return String.format("%.1f %s", value, units[unit]);
  }
}
