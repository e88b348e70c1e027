package io.ringkv.jepsen.harness.client;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.ringkv.proto.v1.ClusterGrpc;
import io.ringkv.proto.v1.PartitionInfo;
import io.ringkv.proto.v1.PartitionsRequest;
import io.ringkv.proto.v1.PartitionsResponse;
import java.time.Duration;
import java.util.Map;
import java.util.OptionalInt;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/** Asks a node's Cluster service which node leads the most partitions, for leader-aimed faults. */
public final class ClusterProbe {
  private ClusterProbe() {}

  /**
   * The node id leading the most partitions according to the node behind {@code channel}, or empty
   * when it knows no leader or cannot answer within {@code deadline}.
   */
  public static OptionalInt busiestLeader(ManagedChannel channel, Duration deadline) {
    PartitionsResponse response;
    try {
      response =
          ClusterGrpc.newBlockingStub(channel)
              .withDeadlineAfter(deadline.toNanos(), TimeUnit.NANOSECONDS)
              .partitions(PartitionsRequest.getDefaultInstance());
    } catch (StatusRuntimeException e) {
      return OptionalInt.empty();
    }
    Map<Long, Integer> led = new TreeMap<>();
    for (PartitionInfo partition : response.getPartitionsList()) {
      if (partition.getLeaderNodeId() != 0) {
        led.merge(partition.getLeaderNodeId(), 1, Integer::sum);
      }
    }
    return led.entrySet().stream()
        .max(Map.Entry.comparingByValue())
        .map(e -> OptionalInt.of(Math.toIntExact(e.getKey())))
        .orElse(OptionalInt.empty());
  }

  /**
   * The Status answer of the node behind {@code channel} (its own count of partitions it leads, its
   * slow flag); null when it cannot answer within {@code deadline}.
   */
  public static io.ringkv.proto.v1.StatusResponse status(
      ManagedChannel channel, Duration deadline) {
    try {
      return ClusterGrpc.newBlockingStub(channel)
          .withDeadlineAfter(deadline.toNanos(), TimeUnit.NANOSECONDS)
          .status(io.ringkv.proto.v1.StatusRequest.getDefaultInstance());
    } catch (StatusRuntimeException e) {
      return null;
    }
  }
}
