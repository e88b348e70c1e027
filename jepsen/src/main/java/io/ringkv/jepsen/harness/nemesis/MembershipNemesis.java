package io.ringkv.jepsen.harness.nemesis;

import io.ringkv.jepsen.Invariants;
import io.ringkv.jepsen.history.Keyword;
import io.ringkv.proto.internal.ClusterMap;
import io.ringkv.proto.internal.ClusterMember;
import io.ringkv.proto.v1.AddNodeResponse;
import io.ringkv.proto.v1.RemoveNodeResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;
import java.util.function.LongSupplier;

/**
 * Changes the ring while clients run: each fault either joins a spare node (started in join mode,
 * then Cluster.AddNode) or decommissions an ACTIVE node (Cluster.RemoveNode, not dead); healing
 * waits, at most {@code settleTimeout}, until the cluster map holds no move, none is planned and
 * not yet started, and every decommissioned node is REMOVED, then retires (kills) the removed nodes
 * for good.
 *
 * <p>Design notes. The first change is drawn at random when both are possible, then joins and
 * decommissions alternate while both are possible. The nemesis never leaves fewer than the
 * replication factor of ACTIVE nodes: it decommissions only while more remain, and only when no
 * earlier decommission is still pending, so at most one node is leaving at a time. It counts a node
 * ACTIVE only after the cluster accepted the command (a refused or failed command changes nothing
 * here and is recorded as the event's error). When it can neither join (no spare left) nor
 * decommission, the fault is {@code :membership-idle}. Healing is bounded: an unsettled map is
 * reported with what is left, and the next heal looks again; a heal after a fault that changed
 * nothing does not wait.
 */
public final class MembershipNemesis implements Nemesis {
  /** How long a heal waits for the map to settle before it reports what is left. */
  public static final Duration SETTLE_TIMEOUT_DEFAULT = Duration.ofSeconds(60);

  /** How often a heal reads the map while it waits. */
  public static final Duration SETTLE_POLL_INTERVAL_DEFAULT = Duration.ofMillis(250);

  static final Keyword JOIN = Keyword.of("join");
  static final Keyword DECOMMISSION = Keyword.of("decommission");
  static final Keyword IDLE = Keyword.of("membership-idle");
  static final Keyword SETTLE = Keyword.of("settle-membership");

  private final MembershipControl control;
  private final Duration settleTimeout;
  private final Duration pollInterval;
  private final LongSupplier nanoClock;

  /** Nodes ACTIVE by this nemesis's account; filled from the members at the first fault. */
  private TreeSet<Integer> active;

  /** Decommissioned nodes not yet seen REMOVED in the map (at most one). */
  private final TreeSet<Integer> leaving = new TreeSet<>();

  private Keyword prepared;

  /** The last change the cluster accepted: JOIN or DECOMMISSION, or null before the first. */
  private Keyword lastChange;

  /**
   * Whether the cluster accepted a command since the last heal (else a heal has nothing to wait
   * for).
   */
  private boolean changed;

  public MembershipNemesis(
      MembershipControl control,
      Duration settleTimeout,
      Duration pollInterval,
      LongSupplier nanoClock) {
    this.control = control;
    this.settleTimeout = settleTimeout;
    this.pollInterval = pollInterval;
    this.nanoClock = nanoClock;
  }

  @Override
  public Keyword startF() {
    return prepared != null ? prepared : Keyword.of("start-membership");
  }

  @Override
  public Keyword stopF() {
    return SETTLE;
  }

  @Override
  public Keyword prepare(Random random) {
    if (active == null) {
      active = new TreeSet<>(control.memberIds());
    }
    boolean canJoin = !control.unusedSpareIds().isEmpty();
    boolean canDecommission = leaving.isEmpty() && active.size() > control.replicationFactor();
    if (canJoin && canDecommission) {
      // Alternate once the first change was drawn: a short run then holds both kinds.
      prepared =
          lastChange == null
              ? (random.nextBoolean() ? JOIN : DECOMMISSION)
              : (lastChange.equals(JOIN) ? DECOMMISSION : JOIN);
    } else if (canJoin) {
      prepared = JOIN;
    } else if (canDecommission) {
      prepared = DECOMMISSION;
    } else {
      prepared = IDLE;
    }
    return prepared;
  }

  @Override
  public NemesisEvent start(Random random) throws Exception {
    Keyword what = prepared != null ? prepared : prepare(random);
    prepared = null;
    Map<Object, Object> value = new LinkedHashMap<>();
    if (what.equals(JOIN)) {
      int node = control.unusedSpareIds().getFirst();
      value.put(Keyword.of("node"), (long) node);
      control.startSpare(node);
      AddNodeResponse added = control.addNode(node);
      active.add(node);
      changed = true;
      lastChange = JOIN;
      value.put(Keyword.of("epoch"), added.getMapEpoch());
      value.put(Keyword.of("moves"), (long) added.getMovesCount());
    } else if (what.equals(DECOMMISSION)) {
      List<Integer> candidates = new ArrayList<>(active);
      int node = candidates.get(random.nextInt(candidates.size()));
      value.put(Keyword.of("node"), (long) node);
      RemoveNodeResponse removed = control.decommission(node);
      active.remove(node);
      leaving.add(node);
      changed = true;
      lastChange = DECOMMISSION;
      value.put(Keyword.of("epoch"), removed.getMapEpoch());
      value.put(Keyword.of("moves"), (long) removed.getMovesCount());
    }
    Invariants.check(
        !what.equals(DECOMMISSION) || active.size() >= control.replicationFactor(),
        "a decommission left %d ACTIVE nodes, below the replication factor %d",
        active.size(),
        control.replicationFactor());
    value.put(Keyword.of("active"), longs(active));
    return new NemesisEvent(what, value);
  }

  /** Waits (bounded) for the map to settle, then retires the nodes it shows REMOVED. */
  @Override
  public NemesisEvent stop() throws Exception {
    long deadlineNanos = nanoClock.getAsLong() + settleTimeout.toNanos();
    boolean waiting = changed || !leaving.isEmpty();
    changed = false;
    ClusterMap map = control.clusterMap();
    while (waiting && !settled(map) && nanoClock.getAsLong() < deadlineNanos) {
      Thread.sleep(pollInterval.toMillis()); // polling a condition under a deadline
      map = control.clusterMap();
    }
    List<Integer> retired = new ArrayList<>();
    for (int node : List.copyOf(leaving)) {
      if (map != null && stateOf(map, node) == ClusterMember.State.REMOVED) {
        control.retire(node);
        leaving.remove(node);
        retired.add(node);
      }
    }
    Map<Object, Object> value = new LinkedHashMap<>();
    value.put(Keyword.of("settled"), settled(map));
    value.put(Keyword.of("epoch"), map == null ? -1L : map.getEpoch());
    value.put(Keyword.of("moves-left"), map == null ? -1L : (long) map.getMovesCount());
    value.put(Keyword.of("retired"), longs(retired));
    value.put(Keyword.of("leaving"), longs(leaving));
    return new NemesisEvent(SETTLE, value);
  }

  /**
   * No move recorded, every leaving node REMOVED, and none planned but not yet started: right after
   * a change the map can hold no move yet because the coordinator has not started them.
   */
  private boolean settled(ClusterMap map) {
    if (map == null || map.getMovesCount() > 0) {
      return false;
    }
    for (int node : leaving) {
      if (stateOf(map, node) != ClusterMember.State.REMOVED) {
        return false;
      }
    }
    return control.unstartedMoves(map.getEpoch()) == 0;
  }

  static ClusterMember.State stateOf(ClusterMap map, long node) {
    for (ClusterMember member : map.getMembersList()) {
      if (member.getNodeId() == node) {
        return member.getState();
      }
    }
    return ClusterMember.State.STATE_UNSPECIFIED;
  }

  private static List<Object> longs(java.util.Collection<Integer> ids) {
    List<Object> out = new ArrayList<>();
    for (int id : ids) {
      out.add((long) id);
    }
    return out;
  }
}
