package io.ringkv.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.server.config.ConfigLoader;
import io.ringkv.storage.ChangeRecord;
import io.ringkv.storage.ChangefeedLog;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves, on one real node (real gRPC, Raft driver, RocksDB), that the scheduled changefeed
 * retention drops change records once they are older than {@code changefeed-retention-age-millis}
 * without anyone asking: the records of a burst of puts are there right after the puts, and later
 * every one of them is gone, the oldest retained revision of each partition has moved past them,
 * and the drop counter saw them. Closing the node stops the retention thread.
 */
class ChangefeedRetentionScheduleTest {
  private static final String HOST = "127.0.0.151";
  private static final long RETENTION_AGE_MILLIS = 3_000;
  private static final int PUTS = 20;

  @TempDir Path dataDir;

  @Test
  void oldChangesAreDroppedOnScheduleAndTheThreadStopsWithTheNode() throws Exception {
    RingkvNode node =
        RingkvNode.start(
            ConfigLoader.load(
                new String[] {
                  "--data-dir",
                  dataDir.toString(),
                  "--host",
                  HOST,
                  "--client-addr",
                  ":" + SingleNodeKvTest.freePort(HOST),
                  "--peer-addr",
                  ":" + SingleNodeKvTest.freePort(HOST),
                  "--metrics-addr",
                  ":" + SingleNodeKvTest.freePort(HOST),
                  "--partitions",
                  "4",
                  "--raft-tick-millis",
                  "20",
                  "--changefeed-retention-age-millis",
                  Long.toString(RETENTION_AGE_MILLIS),
                  "--changefeed-retention-check-interval-millis",
                  "100"
                }));
    try {
      ManagedChannel channel =
          NettyChannelBuilder.forAddress(node.clientAddress()).usePlaintext().build();
      try {
        KVGrpc.KVBlockingStub kv = KVGrpc.newBlockingStub(channel);
        for (int i = 0; i < PUTS; i++) {
          kv.withDeadlineAfter(20, TimeUnit.SECONDS)
              .put(
                  PutRequest.newBuilder()
                      .setKey(ByteString.copyFromUtf8("retained/" + i))
                      .setValue(ByteString.copyFromUtf8("v" + i))
                      .build());
        }
      } finally {
        channel.shutdownNow();
        channel.awaitTermination(5, TimeUnit.SECONDS);
      }

      // The newest change revision of each partition, read right after the puts (well within the
      // retention age, so nothing may be gone yet).
      Map<Integer, Long> newestRevisions = new HashMap<>();
      int records = 0;
      for (int partition : node.hostedPartitions()) {
        ChangefeedLog changefeed = node.storageEngine().changefeed(partition);
        List<ChangeRecord> changes =
            changefeed.read(changefeed.oldestRetainedRevision(), 10_000, Long.MAX_VALUE);
        records += changes.size();
        if (!changes.isEmpty()) {
          newestRevisions.put(partition, changes.getLast().revision());
        }
      }
      assertThat(records).isGreaterThanOrEqualTo(PUTS);

      ThreeNodeClusterTest.awaitTrue(
          "every change record of the puts dropped by the schedule",
          () ->
              newestRevisions.entrySet().stream()
                  .allMatch(newest ->
                      node.storageEngine().changefeed(newest.getKey()).oldestRetainedRevision()
                          > newest.getValue()));
      for (int partition : newestRevisions.keySet()) {
        ChangefeedLog changefeed = node.storageEngine().changefeed(partition);
        assertThat(changefeed.read(changefeed.oldestRetainedRevision(), 10_000, Long.MAX_VALUE))
            .isEmpty();
      }
      assertThat(node.registry().counter("ringkv.changefeed.retention.dropped").count())
          .isGreaterThanOrEqualTo(records);
      assertThat(retentionThreadAlive()).isTrue();
    } finally {
      node.close();
    }
    ThreeNodeClusterTest.awaitTrue(
        "the retention thread ended with the node", () -> !retentionThreadAlive());
  }

  private static boolean retentionThreadAlive() {
    return Thread.getAllStackTraces().keySet().stream()
        .anyMatch(
            thread -> thread.isAlive() && thread.getName().equals(ChangefeedRetention.THREAD_NAME));
  }
}
