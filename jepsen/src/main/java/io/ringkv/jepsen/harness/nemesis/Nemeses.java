package io.ringkv.jepsen.harness.nemesis;

import io.ringkv.jepsen.harness.cluster.LocalCluster;
import io.ringkv.jepsen.history.Keyword;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Random;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The suite's nemeses over a {@link LocalCluster}: partitions (random halves, one node isolated,
 * the leader isolated, a majority ring, a bridge) through a {@link Firewall}; SIGKILL and restart
 * of random nodes or of the leader; SIGSTOP/SIGCONT of a random node or of the leader; {@code
 * slow}, short SIGSTOP/SIGCONT bursts on one node for the whole fault ({@link SlowNemesis}); {@code
 * crash-all}, SIGKILL of every node at the same instant (a power loss) and restart of them all;
 * {@code membership}, a spare node joining or a node decommissioned ({@link MembershipNemesis},
 * only when the run has spare nodes); and {@code all}, which picks one of those for each fault
 * (membership among them when the run has spare nodes). Faults aim at the cluster's current
 * members: a spare once started, never a retired node. The leader is the node that leads the most
 * partitions by the Cluster service; when none is known a random node stands in, and the event says
 * so.
 */
public final class Nemeses {
  /** The names {@code --nemesis} accepts. */
  public static final List<String> NAMES =
      List.of("none", "partition", "kill", "pause", "slow", "crash-all", "membership", "all");

  private Nemeses() {}

  /**
   * The nemesis called {@code name}, or null for {@code none}. {@code leader} answers the current
   * leader's node id, if any.
   */
  public static Nemesis create(
      String name, LocalCluster cluster, Firewall firewall, Supplier<OptionalInt> leader) {
    return create(name, cluster, firewall, leader, SlowNodeWatch.NONE);
  }

  /** As above; {@code watch} lets the slow nemesis record leaderships moving. */
  public static Nemesis create(
      String name,
      LocalCluster cluster,
      Firewall firewall,
      Supplier<OptionalInt> leader,
      SlowNodeWatch watch) {
    return create(name, cluster, firewall, leader, watch, null);
  }

  /**
   * As above; {@code membership} changes the ring, or null when the run has no spare nodes (then
   * {@code membership} is refused and {@code all} goes without it).
   */
  public static Nemesis create(
      String name,
      LocalCluster cluster,
      Firewall firewall,
      Supplier<OptionalInt> leader,
      SlowNodeWatch watch,
      MembershipControl membership) {
    boolean spares = membership != null && !membership.unusedSpareIds().isEmpty();
    return switch (name) {
      case "none" -> null;
      case "partition" -> new PartitionNemesis(cluster, firewall, leader);
      case "kill" -> new KillNemesis(cluster, leader);
      case "pause" -> new PauseNemesis(cluster, leader);
      case "slow" -> new SlowNemesis(cluster, leader, watch);
      case "crash-all" -> new CrashAllNemesis(cluster);
      case "membership" -> {
        if (!spares) {
          throw new IllegalArgumentException("the membership nemesis needs spare nodes");
        }
        yield membershipNemesis(membership);
      }
      case "all" -> {
        List<Nemesis> parts = new ArrayList<>();
        parts.add(new PartitionNemesis(cluster, firewall, leader));
        parts.add(new KillNemesis(cluster, leader));
        parts.add(new PauseNemesis(cluster, leader));
        parts.add(new SlowNemesis(cluster, leader, watch));
        parts.add(new CrashAllNemesis(cluster));
        if (spares) {
          parts.add(membershipNemesis(membership));
        }
        yield new MixedNemesis(parts);
      }
      default ->
          throw new IllegalArgumentException("unknown nemesis '" + name + "'; known: " + NAMES);
    };
  }

  private static Nemesis membershipNemesis(MembershipControl membership) {
    return new MembershipNemesis(
        membership,
        MembershipNemesis.SETTLE_TIMEOUT_DEFAULT,
        MembershipNemesis.SETTLE_POLL_INTERVAL_DEFAULT,
        System::nanoTime);
  }

  /** The nodes faults may aim at: started and not retired. */
  static List<Integer> nodeIds(LocalCluster cluster) {
    return new ArrayList<>(cluster.memberIds());
  }

  /** The leader if one is known, else a random node; {@code how} records which. */
  static int leaderOrRandom(
      LocalCluster cluster, Supplier<OptionalInt> leader, Random random, Map<Object, Object> how) {
    OptionalInt known = leader.get();
    List<Integer> members = nodeIds(cluster);
    if (known.isPresent() && members.contains(known.getAsInt())) {
      how.put(Keyword.of("target"), Keyword.of("leader"));
      return known.getAsInt();
    }
    how.put(Keyword.of("target"), Keyword.of("random-no-leader-known"));
    return members.get(random.nextInt(members.size()));
  }

  /** Cuts the network into one of five shapes; heals by deleting exactly its rules. */
  static final class PartitionNemesis implements Nemesis {
    private final LocalCluster cluster;
    private final Firewall firewall;
    private final Supplier<OptionalInt> leader;

    PartitionNemesis(LocalCluster cluster, Firewall firewall, Supplier<OptionalInt> leader) {
      this.cluster = cluster;
      this.firewall = firewall;
      this.leader = leader;
    }

    @Override
    public Keyword startF() {
      return Keyword.of("start-partition");
    }

    @Override
    public Keyword stopF() {
      return Keyword.of("stop-partition");
    }

    @Override
    public NemesisEvent start(Random random) throws Exception {
      List<Integer> nodes = nodeIds(cluster);
      Map<Object, Object> value = new LinkedHashMap<>();
      String shape =
          List.of("halves", "isolate-one", "isolate-leader", "majority-ring", "bridge")
              .get(random.nextInt(5));
      value.put(Keyword.of("shape"), Keyword.of(shape));
      Map<Integer, Set<Integer>> grudge =
          switch (shape) {
            case "halves" -> Grudges.halves(nodes, random);
            case "isolate-one" -> Grudges.isolate(nodes, nodes.get(random.nextInt(nodes.size())));
            case "isolate-leader" ->
                Grudges.isolate(nodes, leaderOrRandom(cluster, leader, random, value));
            case "majority-ring" -> Grudges.majorityRing(nodes, random);
            default -> Grudges.bridge(nodes, random);
          };
      for (int[] link : Grudges.droppedLinks(grudge)) {
        firewall.drop(cluster.address(link[0]), cluster.address(link[1]));
      }
      Map<Object, Object> edn = new LinkedHashMap<>();
      grudge.forEach((node, from) -> edn.put((long) node, longs(from)));
      value.put(Keyword.of("grudge"), edn);
      return new NemesisEvent(startF(), value);
    }

    @Override
    public NemesisEvent stop() throws Exception {
      int rules = firewall.ruleCount();
      firewall.healAll();
      return new NemesisEvent(stopF(), Map.of(Keyword.of("rules-removed"), (long) rules));
    }
  }

  /** SIGKILLs a random minority or the leader; restarts them on their data when healed. */
  static final class KillNemesis implements Nemesis {
    private final LocalCluster cluster;
    private final Supplier<OptionalInt> leader;
    private final List<Integer> killed = new ArrayList<>();

    KillNemesis(LocalCluster cluster, Supplier<OptionalInt> leader) {
      this.cluster = cluster;
      this.leader = leader;
    }

    @Override
    public Keyword startF() {
      return Keyword.of("kill");
    }

    @Override
    public Keyword stopF() {
      return Keyword.of("restart");
    }

    @Override
    public NemesisEvent start(Random random) throws Exception {
      Map<Object, Object> value = new LinkedHashMap<>();
      List<Integer> targets = new ArrayList<>();
      if (random.nextBoolean()) {
        targets.add(leaderOrRandom(cluster, leader, random, value));
      } else {
        List<Integer> nodes = nodeIds(cluster);
        java.util.Collections.shuffle(nodes, random);
        int minority = Math.max(1, (nodes.size() - 1) / 2);
        targets.addAll(nodes.subList(0, 1 + random.nextInt(minority)));
        value.put(Keyword.of("target"), Keyword.of("random"));
      }
      for (int node : targets) {
        cluster.kill(node);
        killed.add(node);
      }
      value.put(Keyword.of("nodes"), longs(targets));
      return new NemesisEvent(startF(), value);
    }

    @Override
    public NemesisEvent stop() throws Exception {
      List<Integer> restarted = new ArrayList<>(killed);
      for (int node : restarted) {
        if (!cluster.isRunning(node)) {
          cluster.restart(node);
        }
      }
      killed.clear();
      return new NemesisEvent(stopF(), Map.of(Keyword.of("nodes"), longs(restarted)));
    }
  }

  /**
   * SIGKILLs every member at the same instant, as a power loss would, so that nothing a node had
   * not made durable survives anywhere; restarts them all on their data when healed. Writes
   * acknowledged before the crash must all be there afterwards.
   */
  static final class CrashAllNemesis implements Nemesis {
    private final LocalCluster cluster;
    private final List<Integer> killed = new ArrayList<>();

    CrashAllNemesis(LocalCluster cluster) {
      this.cluster = cluster;
    }

    @Override
    public Keyword startF() {
      return Keyword.of("crash-all");
    }

    @Override
    public Keyword stopF() {
      return Keyword.of("restart-all");
    }

    @Override
    public NemesisEvent start(Random random) throws Exception {
      List<Integer> targets = cluster.killAll(nodeIds(cluster));
      killed.addAll(targets);
      return new NemesisEvent(startF(), Map.of(Keyword.of("nodes"), longs(targets)));
    }

    @Override
    public NemesisEvent stop() throws Exception {
      List<Integer> restarted = new ArrayList<>();
      for (int node : killed) {
        if (!cluster.isRunning(node) && !cluster.isRetired(node)) {
          restarted.add(node);
        }
      }
      killed.clear();
      cluster.restartAll(restarted);
      return new NemesisEvent(stopF(), Map.of(Keyword.of("nodes"), longs(restarted)));
    }
  }

  /** SIGSTOPs a random node or the leader; SIGCONTs it when healed. */
  static final class PauseNemesis implements Nemesis {
    private final LocalCluster cluster;
    private final Supplier<OptionalInt> leader;
    private final List<Integer> paused = new ArrayList<>();

    PauseNemesis(LocalCluster cluster, Supplier<OptionalInt> leader) {
      this.cluster = cluster;
      this.leader = leader;
    }

    @Override
    public Keyword startF() {
      return Keyword.of("pause");
    }

    @Override
    public Keyword stopF() {
      return Keyword.of("resume");
    }

    @Override
    public NemesisEvent start(Random random) throws Exception {
      Map<Object, Object> value = new LinkedHashMap<>();
      int node;
      if (random.nextBoolean()) {
        node = leaderOrRandom(cluster, leader, random, value);
      } else {
        List<Integer> members = nodeIds(cluster);
        node = members.get(random.nextInt(members.size()));
        value.put(Keyword.of("target"), Keyword.of("random"));
      }
      cluster.pause(node);
      paused.add(node);
      value.put(Keyword.of("nodes"), longs(List.of(node)));
      return new NemesisEvent(startF(), value);
    }

    @Override
    public NemesisEvent stop() throws Exception {
      List<Integer> resumed = new ArrayList<>(paused);
      for (int node : resumed) {
        if (cluster.isRunning(node)) {
          cluster.resume(node);
        }
      }
      paused.clear();
      return new NemesisEvent(stopF(), Map.of(Keyword.of("nodes"), longs(resumed)));
    }
  }

  /** Each fault is one of its parts, chosen at random; healing heals the part that acted. */
  static final class MixedNemesis implements Nemesis {
    private final List<Nemesis> parts;
    private Nemesis active;
    private Nemesis prepared;

    MixedNemesis(List<Nemesis> parts) {
      this.parts = List.copyOf(parts);
    }

    @Override
    public Keyword startF() {
      return active == null ? Keyword.of("start") : active.startF();
    }

    @Override
    public Keyword stopF() {
      return active == null ? Keyword.of("stop") : active.stopF();
    }

    @Override
    public Keyword prepare(Random random) {
      prepared = parts.get(random.nextInt(parts.size()));
      return prepared.startF();
    }

    @Override
    public NemesisEvent start(Random random) throws Exception {
      active = prepared != null ? prepared : parts.get(random.nextInt(parts.size()));
      prepared = null;
      return active.start(random);
    }

    @Override
    public NemesisEvent stop() throws Exception {
      if (active == null) {
        return NemesisEvent.of("stop", null);
      }
      Nemesis healing = active;
      NemesisEvent event = healing.stop();
      active = null;
      return event;
    }
  }

  private static List<Object> longs(java.util.Collection<Integer> ids) {
    List<Object> out = new ArrayList<>();
    for (int id : ids) {
      out.add((long) id);
    }
    return out;
  }
}
