package io.ringkv.server;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.proto.v1.PutRequest;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/** Shared pieces of the in-process multi-node tests: flags, client channels, bounded waits. */
final class LocalTestCluster {
  private LocalTestCluster() {}

  /**
   * Command-line flags of one node per host (node i+1 on {@code hosts[i]}, free ports, data under
   * {@code dataDir/n<i+1>}), all with the same member list, followed by {@code extraFlags}.
   */
  /**
   * Free client, peer and metrics ports on {@code host}, none equal to another or to the peer port
   * + 1 (gossip's push-pull): ports freed one after the other may come back equal.
   */
  static int[] distinctPorts(String host) throws Exception {
    for (int attempt = 0; attempt < 100; attempt++) {
      int client = SingleNodeKvTest.freePort(host);
      int peer = SingleNodeKvTest.freePort(host);
      int metrics = SingleNodeKvTest.freePort(host);
      java.util.Set<Integer> used = new java.util.HashSet<>(List.of(client, peer, metrics));
      if (used.size() == 3 && !used.contains(peer + 1)) {
        return new int[] {client, peer, metrics};
      }
    }
    throw new IllegalStateException("no three distinct free ports on " + host);
  }

  static String[][] flags(Path dataDir, String[] hosts, String clusterId, String... extraFlags)
      throws Exception {
    int[][] ports = new int[hosts.length][3];
    StringBuilder members = new StringBuilder();
    for (int i = 0; i < hosts.length; i++) {
      ports[i] = distinctPorts(hosts[i]);
      members
          .append(members.isEmpty() ? "" : ",")
          .append(i + 1)
          .append('@')
          .append(hosts[i])
          .append(':')
          .append(ports[i][0])
          .append(':')
          .append(ports[i][1]);
    }
    String[][] flags = new String[hosts.length][];
    for (int i = 0; i < hosts.length; i++) {
      String[] own = {
        "--data-dir",
        dataDir.resolve("n" + (i + 1)).toString(),
        "--node-id",
        Integer.toString(i + 1),
        "--cluster-id",
        clusterId,
        "--host",
        hosts[i],
        "--client-addr",
        ":" + ports[i][0],
        "--peer-addr",
        ":" + ports[i][1],
        "--metrics-addr",
        ":" + ports[i][2],
        "--members",
        members.toString()
      };
      flags[i] = new String[own.length + extraFlags.length];
      System.arraycopy(own, 0, flags[i], 0, own.length);
      System.arraycopy(extraFlags, 0, flags[i], own.length, extraFlags.length);
    }
    return flags;
  }

  /**
   * Flags of node {@code nodeId} on {@code host} (free ports, data in {@code dataDir/n<nodeId>})
   * that starts in join mode, learning the map from the node at {@code joinAddress}, then {@code
   * extraFlags}.
   */
  static String[] joinerFlags(
      Path dataDir,
      long nodeId,
      String clusterId,
      String host,
      String joinAddress,
      String... extraFlags)
      throws Exception {
    List<String> own =
        new ArrayList<>(
            List.of(
                "--data-dir",
                dataDir.resolve("n" + nodeId).toString(),
                "--node-id",
                Long.toString(nodeId),
                "--cluster-id",
                clusterId,
                "--host",
                host,
                "--client-addr",
                ":" + SingleNodeKvTest.freePort(host),
                "--peer-addr",
                ":" + SingleNodeKvTest.freePort(host),
                "--metrics-addr",
                ":" + SingleNodeKvTest.freePort(host),
                "--join",
                joinAddress));
    own.addAll(List.of(extraFlags));
    return own.toArray(String[]::new);
  }

  /**
   * The configuration of a one-node cluster on {@code host} (free ports), plus {@code extraFlags}.
   */
  static io.ringkv.server.config.NodeConfig singleNodeConfig(
      Path dataDir, String host, String... extraFlags) throws Exception {
    List<String> flags =
        new java.util.ArrayList<>(
            List.of(
                "--data-dir", dataDir.toString(),
                "--host", host,
                "--client-addr", ":" + SingleNodeKvTest.freePort(host),
                "--peer-addr", ":" + SingleNodeKvTest.freePort(host),
                "--metrics-addr", ":" + SingleNodeKvTest.freePort(host)));
    flags.addAll(List.of(extraFlags));
    return io.ringkv.server.config.ConfigLoader.load(flags.toArray(String[]::new));
  }

  /** A plaintext channel to {@code node}'s client port, closed through {@code toClose}. */
  static ManagedChannel channel(RingkvNode node, List<AutoCloseable> toClose) {
    ManagedChannel channel =
        NettyChannelBuilder.forAddress(node.clientAddress()).usePlaintext().build();
    toClose.add(() -> {
      channel.shutdownNow();
      channel.awaitTermination(5, TimeUnit.SECONDS);
    });
    return channel;
  }

  /** Closes {@code toClose} in reverse order, then every node still running. */
  static void closeAll(List<AutoCloseable> toClose, RingkvNode[] nodes) throws Exception {
    for (int i = toClose.size() - 1; i >= 0; i--) {
      toClose.get(i).close();
    }
    for (RingkvNode node : nodes) {
      if (node != null) {
        node.close();
      }
    }
  }

  /**
   * A blind put sent until it succeeds, retried while the partition has no leader or the call times
   * out, until {@code deadlineNanos}. Retrying a blind write of the same value leaves the same
   * final state, which is all the callers check.
   */
  static void putRetrying(
      KVGrpc.KVBlockingStub kv, PutRequest request, long callSeconds, long deadlineNanos) {
    while (true) {
      try {
        kv.withDeadlineAfter(callSeconds, TimeUnit.SECONDS).put(request);
        return;
      } catch (StatusRuntimeException e) {
        Status.Code code = e.getStatus().getCode();
        boolean retryable =
            code == Status.Code.UNAVAILABLE || code == Status.Code.DEADLINE_EXCEEDED;
        if (!retryable || System.nanoTime() > deadlineNanos) {
          throw e;
        }
      }
    }
  }

  static void awaitTrue(String what, long seconds, BooleanSupplier condition) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for: " + what);
      }
      TimeUnit.MILLISECONDS.sleep(20); // polling interval of a bounded wait
    }
  }
}
