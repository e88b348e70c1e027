package io.ringkv.jepsen.harness.nemesis;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Partition shapes as grudges: for each node, the nodes it no longer hears from. Pure functions of
 * the node list and a seeded random; every grudge here is symmetric (a link is cut both ways).
 */
public final class Grudges {
  private Grudges() {}

  /** Two random halves that cannot reach each other (the smaller half has {@code n / 2}). */
  public static Map<Integer, Set<Integer>> halves(List<Integer> nodes, Random random) {
    List<Integer> shuffled = shuffled(nodes, random);
    int half = shuffled.size() / 2;
    return complete(shuffled.subList(0, half), shuffled.subList(half, shuffled.size()));
  }

  /** {@code node} alone, cut from every other node. */
  public static Map<Integer, Set<Integer>> isolate(List<Integer> nodes, int node) {
    if (!nodes.contains(node)) {
      throw new IllegalArgumentException("node " + node + " is not one of " + nodes);
    }
    List<Integer> rest = new ArrayList<>(nodes);
    rest.remove(Integer.valueOf(node));
    return complete(List.of(node), rest);
  }

  /**
   * A ring in random order where every node hears only its ring neighbours within distance {@code
   * majority / 2}: each node sees a majority, but no two nodes far apart on the ring see the same
   * one. With three nodes nothing is cut.
   */
  public static Map<Integer, Set<Integer>> majorityRing(List<Integer> nodes, Random random) {
    List<Integer> ring = shuffled(nodes, random);
    int n = ring.size();
    int reach = (n / 2 + 1) / 2;
    Map<Integer, Set<Integer>> grudge = empty(ring);
    for (int p = 0; p < n; p++) {
      for (int q = 0; q < n; q++) {
        int distance = Math.min(Math.abs(p - q), n - Math.abs(p - q));
        if (distance > reach) {
          grudge.get(ring.get(p)).add(ring.get(q));
        }
      }
    }
    return grudge;
  }

  /**
   * Two halves cut from each other except through one bridge node that hears both: the nodes before
   * the bridge in a random order cannot reach those after it.
   */
  public static Map<Integer, Set<Integer>> bridge(List<Integer> nodes, Random random) {
    List<Integer> shuffled = shuffled(nodes, random);
    int bridge = shuffled.size() / 2;
    Map<Integer, Set<Integer>> grudge =
        complete(shuffled.subList(0, bridge), shuffled.subList(bridge + 1, shuffled.size()));
    grudge.put(shuffled.get(bridge), new TreeSet<>());
    return grudge;
  }

  /** The directed links (from, to) a grudge drops: {@code to} no longer hears {@code from}. */
  public static List<int[]> droppedLinks(Map<Integer, Set<Integer>> grudge) {
    List<int[]> links = new ArrayList<>();
    for (Map.Entry<Integer, Set<Integer>> entry : grudge.entrySet()) {
      for (int from : entry.getValue()) {
        links.add(new int[] {from, entry.getKey()});
      }
    }
    return links;
  }

  private static Map<Integer, Set<Integer>> complete(List<Integer> a, List<Integer> b) {
    List<Integer> all = new ArrayList<>(a);
    all.addAll(b);
    Map<Integer, Set<Integer>> grudge = empty(all);
    for (int x : a) {
      for (int y : b) {
        grudge.get(x).add(y);
        grudge.get(y).add(x);
      }
    }
    return grudge;
  }

  private static Map<Integer, Set<Integer>> empty(List<Integer> nodes) {
    Map<Integer, Set<Integer>> grudge = new TreeMap<>();
    for (int node : nodes) {
      grudge.put(node, new TreeSet<>());
    }
    return grudge;
  }

  private static List<Integer> shuffled(List<Integer> nodes, Random random) {
    if (nodes.isEmpty()) {
      throw new IllegalArgumentException("no nodes");
    }
    List<Integer> copy = new ArrayList<>(new TreeSet<>(nodes));
    Collections.shuffle(copy, random);
    return copy;
  }
}
