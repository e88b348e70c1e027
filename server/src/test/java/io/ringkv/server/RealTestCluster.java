package io.ringkv.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.ringkv.proto.v1.ClusterGrpc;
import io.ringkv.proto.v1.GetRequest;
import io.ringkv.proto.v1.GetResponse;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.proto.v1.PartitionInfo;
import io.ringkv.proto.v1.PartitionsRequest;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.proto.v1.PutResponse;
import io.ringkv.routing.PartitionLayout;
import io.ringkv.server.config.ConfigLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A cluster of real in-process nodes (real sockets, RocksDB, driver) for the service's tests:
 * start, restart every node, and the check that every partition still serves on every replica.
 */
final class RealTestCluster implements AutoCloseable {
  static final long WAIT_SECONDS = 60;

  final RingkvNode[] nodes;
  final KVGrpc.KVBlockingStub[] kv;
  final ClusterGrpc.ClusterBlockingStub[] cluster;
  final ManagedChannel[] channels;
  final PartitionLayout layout;
  private final String[][] flags;
  private final List<AutoCloseable> toClose = new ArrayList<>();

  /** What the cluster's own stubs send (a bearer token once a test turned auth on). */
  private io.grpc.ClientInterceptor credentials =
      io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(new io.grpc.Metadata());

  /**
   * From the next (re)start on, the cluster's own stubs send {@code authorization: Bearer token}.
   */
  void useToken(String token) {
    io.grpc.Metadata headers = new io.grpc.Metadata();
    headers.put(
        io.grpc.Metadata.Key.of("authorization", io.grpc.Metadata.ASCII_STRING_MARSHALLER),
        "Bearer " + token);
    credentials = io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(headers);
  }

  /** Starts one node per host with {@code partitions} partitions and {@code extraFlags}. */
  RealTestCluster(Path dataDir, String[] hosts, int partitions, String... extraFlags)
      throws Exception {
    String[] common = new String[extraFlags.length + 4];
    common[0] = "--partitions";
    common[1] = Integer.toString(partitions);
    common[2] = "--raft-tick-millis";
    common[3] = "20";
    System.arraycopy(extraFlags, 0, common, 4, extraFlags.length);
    flags = LocalTestCluster.flags(dataDir, hosts, "service-test", common);
    nodes = new RingkvNode[hosts.length];
    kv = new KVGrpc.KVBlockingStub[hosts.length];
    cluster = new ClusterGrpc.ClusterBlockingStub[hosts.length];
    channels = new ManagedChannel[hosts.length];
    layout = PartitionLayout.of(partitions);
    startAll();
  }

  private void startAll() throws Exception {
    for (int i = 0; i < nodes.length; i++) {
      nodes[i] = RingkvNode.start(ConfigLoader.load(flags[i]));
      channels[i] = LocalTestCluster.channel(nodes[i], toClose);
      kv[i] = KVGrpc.newBlockingStub(channels[i]).withInterceptors(credentials);
      cluster[i] = ClusterGrpc.newBlockingStub(channels[i]).withInterceptors(credentials);
    }
    awaitLeaders();
  }

  /** Stops every node, then starts them all again on the same data. */
  void restartAll() throws Exception {
    LocalTestCluster.closeAll(toClose, nodes);
    toClose.clear();
    startAll();
  }

  void awaitLeaders() throws Exception {
    LocalTestCluster.awaitTrue(
        "every partition has a leader on every node",
        WAIT_SECONDS,
        () -> {
          for (ClusterGrpc.ClusterBlockingStub stub : cluster) {
            for (PartitionInfo info : partitions(stub)) {
              if (info.getLeaderNodeId() == 0) {
                return false;
              }
            }
          }
          return true;
        });
  }

  private static List<PartitionInfo> partitions(ClusterGrpc.ClusterBlockingStub stub) {
    return stub.withDeadlineAfter(5, TimeUnit.SECONDS)
        .partitions(PartitionsRequest.getDefaultInstance())
        .getPartitionsList();
  }

  /** A key of {@code partition}, distinct per {@code tag}. */
  ByteString keyOf(int partition, String tag) {
    for (int i = 0; ; i++) {
      byte[] key = (tag + "-" + i).getBytes(StandardCharsets.UTF_8);
      if (layout.partitionOfKey(key) == partition) {
        return ByteString.copyFrom(key);
      }
    }
  }

  /**
   * Proves that every partition serves: a put through each node, read back linearizably, and every
   * replica of the partition applies it (a stopped replica's applied index would stay behind).
   */
  void assertEveryPartitionServes(String tag) throws Exception {
    for (int partition = 0; partition < layout.partitionCount(); partition++) {
      for (int node = 0; node < nodes.length; node++) {
        ByteString key = keyOf(partition, tag + "-p" + partition + "-n" + node);
        ByteString value = ByteString.copyFromUtf8("served " + tag);
        PutResponse put = putWithRetry(node, PutRequest.newBuilder().setKey(key).setValue(value));
        GetResponse got =
            kv[node]
                .withDeadlineAfter(10, TimeUnit.SECONDS)
                .get(GetRequest.newBuilder().setKey(key).build());
        assertThat(got.getValue())
            .as("partition %d via node %d", partition, node + 1)
            .isEqualTo(value);
        awaitApplied(partition, put.getRevision());
      }
    }
  }

  /** Waits until every node's replica of {@code partition} applied {@code index}. */
  void awaitApplied(int partition, long index) throws Exception {
    LocalTestCluster.awaitTrue(
        "every replica of partition " + partition + " applies " + index,
        WAIT_SECONDS,
        () -> {
          for (ClusterGrpc.ClusterBlockingStub stub : cluster) {
            for (PartitionInfo info : partitions(stub)) {
              if (info.getId() == partition && info.getAppliedIndex() < index) {
                return false;
              }
            }
          }
          return true;
        });
  }

  /** A put retried while the partition has no leader (UNAVAILABLE) within the wait bound. */
  PutResponse putWithRetry(int node, PutRequest.Builder request) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
    while (true) {
      try {
        return kv[node].withDeadlineAfter(10, TimeUnit.SECONDS).put(request.build());
      } catch (StatusRuntimeException e) {
        if (e.getStatus().getCode() != Status.Code.UNAVAILABLE || System.nanoTime() > deadline) {
          throw e;
        }
      }
    }
  }

  @Override
  public void close() throws Exception {
    LocalTestCluster.closeAll(toClose, nodes);
  }
}
