package io.ringkv.client;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Decides which nodes a watch opens streams to. Pure: a partition map (or none), the query and the
 * addresses to avoid in, a list of routes out.
 *
 * <p>When every node holds every partition (nodes no more than the replication factor), or when no
 * map is known, one stream to one node covers everything. Otherwise each partition goes to a node
 * holding one of its replicas (a node without one would only relay), spreading partitions evenly
 * over the replicas, and the streams are merged by the client. A node recently failed is avoided
 * while another choice exists.
 */
final class WatchRoutes {
  private WatchRoutes() {}

  /**
   * One stream of a watch.
   *
   * @param address the node's client address
   * @param partitions the partitions it covers; empty means every partition
   */
  record Route(String address, List<Integer> partitions) {
    Route {
      partitions = List.copyOf(partitions);
    }

    boolean covers(int partition) {
      return partitions.isEmpty() || partitions.contains(partition);
    }
  }

  /**
   * The routes of a watch.
   *
   * @param spread rotates the choice of node for a single stream, so that many watches of one
   *     client do not all land on the first node
   */
  static List<Route> plan(
      PartitionMap map,
      WatchQuery query,
      List<String> seeds,
      Collection<String> avoid,
      int spread) {
    if (map == null) {
      return List.of(new Route(pick(seeds, avoid, spread), List.of()));
    }
    if (query.selector() == WatchQuery.Selector.KEY) {
      int partition = map.partitionOf(query.keyBytes());
      return List.of(new Route(replicaFor(map, partition, avoid, Map.of()), List.of(partition)));
    }
    if (map.everyMemberHoldsEveryPartition()) {
      List<String> members = map.memberAddresses();
      return List.of(
          new Route(pick(members.isEmpty() ? seeds : members, avoid, spread), List.of()));
    }
    Map<String, List<Integer>> byAddress = new TreeMap<>();
    Map<String, Integer> load = new HashMap<>();
    for (int partition = 0; partition < map.partitionCount(); partition++) {
      String address = replicaFor(map, partition, avoid, load);
      load.merge(address, 1, Integer::sum);
      byAddress.computeIfAbsent(address, a -> new ArrayList<>()).add(partition);
    }
    List<Route> routes = new ArrayList<>();
    byAddress.forEach((address, partitions) -> routes.add(new Route(address, partitions)));
    int covered = routes.stream().mapToInt(route -> route.partitions().size()).sum();
    Invariants.check(covered == map.partitionCount(), "routes cover %d partitions", covered);
    return routes;
  }

  /** The least loaded replica of {@code partition} not avoided; any member if all are avoided. */
  private static String replicaFor(
      PartitionMap map, int partition, Collection<String> avoid, Map<String, Integer> load) {
    String best = null;
    for (String address : map.replicaAddresses(partition)) {
      if (!avoid.contains(address)
          && (best == null || load.getOrDefault(address, 0) < load.getOrDefault(best, 0))) {
        best = address;
      }
    }
    if (best != null) {
      return best;
    }
    // Every replica failed recently: any other node relays from a replica.
    List<String> members = map.memberAddresses();
    List<String> replicas = map.replicaAddresses(partition);
    return pick(members.isEmpty() ? replicas : members, avoid, partition);
  }

  /** The first address not avoided, counting from {@code spread}; any when every one is. */
  private static String pick(List<String> addresses, Collection<String> avoid, int spread) {
    Invariants.check(!addresses.isEmpty(), "no address to watch from");
    int offset = Math.floorMod(spread, addresses.size());
    for (int i = 0; i < addresses.size(); i++) {
      String address = addresses.get((offset + i) % addresses.size());
      if (!avoid.contains(address)) {
        return address;
      }
    }
    return addresses.get(offset);
  }
}
