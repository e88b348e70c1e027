package io.ringkv.server.watch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.ringkv.proto.v1.ErrorDetail;
import io.ringkv.proto.v1.OnCompacted;
import io.ringkv.proto.v1.ReadConsistency;
import io.ringkv.proto.v1.WatchCursor;
import io.ringkv.proto.v1.WatchRequest;
import io.ringkv.routing.PartitionLayout;
import io.ringkv.server.KvErrors;
import io.ringkv.server.config.Limits;
import org.junit.jupiter.api.Test;

/**
 * Proves the pure checks of a Watch request: a key pins the stream to its partition, a prefix or
 * "all" covers every partition or those listed; partitions in the cursor start after their revision
 * and the others at the request's start; consistency and the compaction action are read; and a
 * request without a selector, with an oversized prefix, a partition that does not exist, a negative
 * cursor revision, or a key outside the listed partitions is refused INVALID_ARGUMENT.
 */
class WatchPlanTest {
  private static final PartitionLayout LAYOUT = PartitionLayout.of(8);

  private static WatchPlan plan(WatchRequest.Builder request) {
    return WatchPlan.of(request.build(), LAYOUT, Limits.DEFAULTS);
  }

  @Test
  void aKeyCoversItsPartitionAndAPrefixEveryPartitionOrTheListedOnes() {
    byte[] key = "user:1".getBytes();
    WatchPlan single = plan(WatchRequest.newBuilder().setKey(ByteString.copyFrom(key)));
    assertThat(single.partitions()).containsExactly(LAYOUT.partitionOfKey(key));
    assertThat(single.selector().matches(key)).isTrue();
    assertThat(single.selector().matches("user:10".getBytes())).isFalse();
    assertThat(single.linearizable()).isTrue();
    assertThat(single.snapshotOnCompacted()).isFalse();

    WatchPlan prefix = plan(WatchRequest.newBuilder().setPrefix(ByteString.copyFromUtf8("user:")));
    assertThat(prefix.partitions()).containsExactly(0, 1, 2, 3, 4, 5, 6, 7);
    assertThat(prefix.selector().matches("user:10".getBytes())).isTrue();
    assertThat(prefix.selector().matches("use".getBytes())).isFalse();

    WatchPlan listed =
        plan(
            WatchRequest.newBuilder()
                .setAll(true)
                .addPartitions(5)
                .addPartitions(2)
                .addPartitions(5));
    assertThat(listed.partitions()).containsExactly(2, 5);
  }

  @Test
  void cursorPartitionsResumeAndTheOthersTakeTheRequestsStart() {
    WatchPlan plan =
        plan(
            WatchRequest.newBuilder()
                .setAll(true)
                .addPartitions(1)
                .addPartitions(3)
                .setStart(WatchRequest.Start.SNAPSHOT)
                .setCursor(WatchCursor.newBuilder().putRevisions(3, 42).putRevisions(6, 7))
                .setConsistency(ReadConsistency.SERIALIZABLE)
                .setOnCompacted(OnCompacted.Action.SNAPSHOT)
                .setProgressIntervalMillis(250));
    assertThat(plan.starts()).containsExactly(WatchPlan.Start.SNAPSHOT, WatchPlan.Start.CURSOR);
    assertThat(plan.cursorRevisions()).containsExactly(0, 42);
    assertThat(plan.linearizable()).isFalse();
    assertThat(plan.snapshotOnCompacted()).isTrue();
    assertThat(plan.progressIntervalMillis()).isEqualTo(250);
  }

  @Test
  void malformedRequestsAreRefused() {
    assertMalformed(WatchRequest.newBuilder(), "one of key, prefix or all");
    assertMalformed(WatchRequest.newBuilder().setAll(false), "all must be true");
    assertMalformed(WatchRequest.newBuilder().setAll(true).addPartitions(8), "does not exist");
    assertMalformed(
        WatchRequest.newBuilder()
            .setAll(true)
            .setCursor(WatchCursor.newBuilder().putRevisions(0, -1)),
        "must be >= 0");
    byte[] key = "k".getBytes();
    int other = (LAYOUT.partitionOfKey(key) + 1) % 8;
    assertMalformed(
        WatchRequest.newBuilder().setKey(ByteString.copyFrom(key)).addPartitions(other),
        "which partitions does not list");
    byte[] huge = new byte[Limits.DEFAULTS.keySizeBytesMax() + 1];
    assertThatThrownBy(() -> plan(WatchRequest.newBuilder().setPrefix(ByteString.copyFrom(huge))))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e ->
                assertThat(KvErrors.detailOf(e).getReason())
                    .isEqualTo(ErrorDetail.Reason.LIMIT_EXCEEDED));
  }

  private static void assertMalformed(WatchRequest.Builder request, String message) {
    assertThatThrownBy(() -> plan(request))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
              assertThat(e.getStatus().getDescription()).contains(message);
              assertThat(KvErrors.detailOf(e).getReason()).isEqualTo(ErrorDetail.Reason.MALFORMED);
            });
  }
}
