package io.ringkv.jepsen.membership;

import io.ringkv.jepsen.harness.cluster.ClusterSpec;
import io.ringkv.jepsen.harness.cluster.LocalCluster;
import io.ringkv.jepsen.harness.nemesis.LocalMembershipControl;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** A real cluster on the membership tests' loopback range (127.0.5.x) with its controls. */
final class MembershipCluster implements AutoCloseable {
  /** The membership tests' own /24; each test class takes its own base within .1-.60. */
  static final String ADDRESS_PREFIX = "127.0.5.";

  static final Duration HEALTH_TIMEOUT = Duration.ofSeconds(90);

  final LocalCluster cluster;
  final LocalMembershipControl control;

  private MembershipCluster(LocalCluster cluster) {
    this.cluster = cluster;
    this.control =
        new LocalMembershipControl(cluster, LocalMembershipControl.COMMAND_DEADLINE_DEFAULT);
  }

  static MembershipCluster start(
      Path store,
      String name,
      int nodes,
      int spares,
      int addressBase,
      int partitions,
      List<String> flags)
      throws Exception {
    ClusterSpec spec =
        new ClusterSpec(
            LocalCluster.findRepositoryRoot(Path.of("")),
            store,
            nodes,
            addressBase,
            partitions,
            3,
            name + "-" + Long.toString(System.nanoTime(), 36),
            HEALTH_TIMEOUT,
            flags,
            spares,
            ADDRESS_PREFIX);
    return new MembershipCluster(LocalCluster.start(spec));
  }

  /** Client endpoints of the first nodes (the client learns joined ones from the map). */
  List<String> endpoints() {
    List<String> endpoints = new ArrayList<>();
    for (int id = 1; id <= cluster.nodeCount(); id++) {
      endpoints.add(cluster.address(id) + ":" + ClusterSpec.CLIENT_PORT);
    }
    return endpoints;
  }

  /** Client endpoints of the current members. */
  List<String> memberEndpoints() {
    List<String> endpoints = new ArrayList<>();
    for (int id : cluster.memberIds()) {
      endpoints.add(cluster.address(id) + ":" + ClusterSpec.CLIENT_PORT);
    }
    return endpoints;
  }

  @Override
  public void close() {
    control.close();
    cluster.close();
  }
}
