package io.ringkv.server.raft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.ringkv.proto.internal.Command;
import io.ringkv.proto.internal.CommandResult;
import io.ringkv.proto.v1.Compare;
import io.ringkv.proto.v1.ErrorDetail;
import io.ringkv.proto.v1.GetRequest;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.proto.v1.RequestOp;
import io.ringkv.proto.v1.TxnRequest;
import io.ringkv.proto.v1.WriteSession;
import io.ringkv.raft.Entry;
import io.ringkv.raft.EntryType;
import io.ringkv.raft.Invariants;
import io.ringkv.storage.StorageEngine;
import io.ringkv.storage.StorageOptions;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves the partition state machine on a real RocksDB store, entry by entry: the session contract
 * (a repeated sequence is answered with the stored result and changes nothing; an older one is
 * refused; a write on a session idle longer than its expiry in entry time is refused with
 * SESSION_EXPIRED and never applied, a retry included), that commands of one apply batch see each
 * other's writes, etcd-like Txn compares on missing keys, and that the applied index only moves by
 * contiguous entries.
 */
class PartitionStateMachineTest {
  private static final long TTL_MILLIS = 1_000;
  @TempDir Path directory;
  private StorageEngine engine;
  private PartitionStateMachine machine;
  private long nextIndex = 1;

  @BeforeEach
  void open() {
    engine = StorageEngine.open(StorageOptions.builder(directory, "test", 1).build());
    machine = new PartitionStateMachine(engine.partition(3), TTL_MILLIS);
  }

  @AfterEach
  void close() {
    engine.close();
  }

  @Test
  void sessionsApplyOnceAndRefuseOldSequences() {
    CommandResult first = applyOne(put("k", "a", 9, 3, 1_000));
    assertThat(first.getPut().getRevision()).isEqualTo(1);
    CommandResult repeated = applyOne(put("k", "b", 9, 3, 1_500));
    assertThat(repeated).isEqualTo(first); // stored answer, not applied
    assertThat(value("k")).isEqualTo("a");
    CommandResult stale = applyOne(put("k", "c", 9, 2, 1_600));
    assertThat(stale.getError().getGrpcCode()).isEqualTo(Status.Code.FAILED_PRECONDITION.value());
    assertThat(value("k")).isEqualTo("a");
    CommandResult next = applyOne(put("k", "e", 9, 4, 1_900));
    assertThat(next.getPut().getPrevFound()).isTrue();
    assertThat(engine.partition(3).get(bytes("k")).orElseThrow().version()).isEqualTo(2);
  }

  /** Regression: an expired session was taken for a new one, so a late retry applied twice. */
  @Test
  void aRetryAfterTheSessionExpiredIsRefusedAndNeverAppliedTwice() {
    applyOne(put("k", "a", 9, 3, 1_000));
    long late = 1_000 + TTL_MILLIS + 1; // idle past the expiry, by the entries' own clock
    CommandResult retry = applyOne(put("k", "a", 9, 3, late));
    assertSessionExpired(retry);
    CommandResult fresh = applyOne(put("k", "b", 9, 4, late));
    assertSessionExpired(fresh);
    CommandResult restarted = applyOne(put("k", "c", 9, 1, late));
    assertSessionExpired(restarted);
    assertThat(value("k")).isEqualTo("a");
    assertThat(engine.partition(3).get(bytes("k")).orElseThrow().version()).isEqualTo(1);
  }

  @Test
  void aRecordIdleForTwoExpiriesIsDeletedByTheSweepOfItsSlice() {
    long sessionId = (1L << 52) | 5; // slice 1: swept at entry 64
    long other = (2L << 52) | 5; // slice 2: not swept then
    applyOne(put("s", "1", sessionId, 1, 1_000));
    applyOne(put("o", "1", other, 1, 1_000));
    while (nextIndex < 64) {
      applyOne(put("filler", "x", 0, 0, 1_000));
    }
    assertThat(engine.partition(3).session(sessionId)).isPresent();
    applyOne(put("filler", "x", 0, 0, 1_000 + 2 * TTL_MILLIS + 1)); // entry 64
    assertThat(engine.partition(3).session(sessionId)).isEmpty();
    assertThat(engine.partition(3).session(other)).isPresent();
  }

  @Test
  void aLargeResultIsNotRetainedAndItsRetryIsToldSo() {
    String big = "v".repeat(PartitionStateMachine.SESSION_RESULT_BYTES_MAX);
    applyOne(put("big", big, 0, 0, 1_000));
    Command txn =
        Command.newBuilder()
            .setProposedAtMillis(1_000)
            .setSession(WriteSession.newBuilder().setSessionId(11).setSequence(1))
            .setTxn(TxnRequest.newBuilder().addSuccess(getOp("big")).addSuccess(putOp("m", "1")))
            .build();
    CommandResult first = applyOne(txn);
    assertThat(first.getTxn().getResponses(0).getGet().getValue().size()).isEqualTo(big.length());
    CommandResult retry = applyOne(txn);
    assertThat(retry.getError().getReason())
        .isEqualTo(ErrorDetail.Reason.RESULT_NOT_RETAINED_VALUE);
    assertThat(retry.getError().getMessage()).contains("revision 2");
    assertThat(engine.partition(3).get(bytes("m")).orElseThrow().version()).isEqualTo(1);
  }

  @Test
  void aTxnOverTheResponseLimitAppliesNoneOfItsWritesAndTheBatchGoesOn() {
    applyOne(put("v", "x".repeat(1000), 0, 0, 1_000));
    Command tooLarge =
        Command.newBuilder()
            .setResponseSizeBytesMax(PartitionStateMachine.RESPONSE_HEADER_BYTES + 2_500)
            .setTxn(
                TxnRequest.newBuilder()
                    .addSuccess(putOp("w", "1"))
                    .addSuccess(getOp("v"))
                    .addSuccess(putOp("v", "y".repeat(1000)))
                    .addSuccess(getOp("v"))
                    .addSuccess(getOp("v")))
            .build();
    Command after = put("w", "2", 0, 0, 1_000);
    List<PartitionStateMachine.Applied> results =
        machine.apply(List.of(entry(tooLarge), entry(after)), null);
    CommandResult refused = results.get(0).result();
    assertThat(refused.getError().getGrpcCode()).isEqualTo(Status.Code.INVALID_ARGUMENT.value());
    assertThat(refused.getError().getLimitName()).isEqualTo("response-size-bytes-max");
    assertThat(results.get(1).result().getPut().getPrevFound()).isFalse();
    assertThat(value("v")).isEqualTo("x".repeat(1000));
    assertThat(value("w")).isEqualTo("2");
  }

  /**
   * Regression: change records were stamped with the largest command time of their apply batch, so
   * replicas that batched the same entries differently wrote different change records.
   */
  @Test
  void changeRecordsAreIdenticalWhateverTheBatching() {
    List<Command> commands =
        List.of(
            put("a", "1", 0, 0, 1_000),
            put("b", "1", 21, 1, 2_000),
            put("a", "2", 0, 0, 3_000),
            put("c", "1", 21, 2, 2_500));
    machine.apply(commands.stream().map(this::entry).toList(), null);
    StorageEngine other =
        StorageEngine.open(StorageOptions.builder(directory.resolve("other"), "test", 1).build());
    try {
      PartitionStateMachine oneByOne = new PartitionStateMachine(other.partition(3), TTL_MILLIS);
      long index = 1;
      for (Command command : commands) {
        oneByOne.apply(
            List.of(new Entry(1, index++, EntryType.NORMAL, command.toByteArray())), null);
      }
      assertThat(other.changefeed(3).read(1, 100, Long.MAX_VALUE))
          .usingRecursiveFieldByFieldElementComparator()
          .isEqualTo(engine.changefeed(3).read(1, 100, Long.MAX_VALUE));
      assertThat(engine.changefeed(3).read(1, 100, Long.MAX_VALUE))
          .extracting(io.ringkv.storage.ChangeRecord::timestampMillis)
          .containsExactly(1_000L, 2_000L, 3_000L, 2_500L);
    } finally {
      other.close();
    }
  }

  private static RequestOp getOp(String key) {
    return RequestOp.newBuilder()
        .setGet(GetRequest.newBuilder().setKey(ByteString.copyFrom(bytes(key))))
        .build();
  }

  private static RequestOp putOp(String key, String value) {
    return RequestOp.newBuilder().setPut(putRequest(key, value)).build();
  }

  private static void assertSessionExpired(CommandResult result) {
    assertThat(result.hasError()).as("refused: %s", result).isTrue();
    assertThat(result.getError().getGrpcCode()).isEqualTo(Status.Code.FAILED_PRECONDITION.value());
    assertThat(result.getError().getReason()).isEqualTo(ErrorDetail.Reason.SESSION_EXPIRED_VALUE);
  }

  @Test
  void laterCommandsOfOneBatchSeeEarlierOnesAndTxnComparesMissingKeysAsZero() {
    TxnRequest createIfAbsent =
        TxnRequest.newBuilder()
            .addCompare(
                Compare.newBuilder()
                    .setKey(ByteString.copyFrom(bytes("t")))
                    .setTarget(Compare.Target.VERSION)
                    .setResult(Compare.Result.EQUAL)
                    .setVersion(0))
            .addSuccess(RequestOp.newBuilder().setPut(putRequest("t", "created")))
            .addFailure(
                RequestOp.newBuilder()
                    .setGet(GetRequest.newBuilder().setKey(ByteString.copyFrom(bytes("t")))))
            .build();
    Command txn = Command.newBuilder().setTxn(createIfAbsent).build();
    List<PartitionStateMachine.Applied> results =
        machine.apply(List.of(entry(txn), entry(txn)), null);
    assertThat(results.get(0).result().getTxn().getSucceeded()).isTrue();
    assertThat(results.get(1).result().getTxn().getSucceeded()).isFalse();
    assertThat(results.get(1).result().getTxn().getResponses(0).getGet().getValue().toStringUtf8())
        .isEqualTo("created");
    assertThat(engine.partition(3).appliedState().index()).isEqualTo(2);
  }

  @Test
  void entriesMustFollowTheAppliedIndex() {
    applyOne(put("x", "1", 0, 0, 1));
    Entry gap =
        new Entry(
            1,
            nextIndex + 1,
            EntryType.NORMAL,
            Command.newBuilder().setPut(putRequest("x", "2")).build().toByteArray());
    assertThatThrownBy(() -> machine.apply(List.of(gap), null))
        .isInstanceOf(Invariants.InvariantViolation.class);
    // A leader's empty no-op advances the applied index and yields no result.
    assertThat(
            machine.apply(List.of(new Entry(2, nextIndex++, EntryType.NORMAL, new byte[0])), null))
        .isEmpty();
    assertThat(engine.partition(3).appliedState().index()).isEqualTo(2);
  }

  private CommandResult applyOne(Command command) {
    List<PartitionStateMachine.Applied> results = machine.apply(List.of(entry(command)), null);
    assertThat(results).hasSize(1);
    return results.getFirst().result();
  }

  private Entry entry(Command command) {
    return new Entry(1, nextIndex++, EntryType.NORMAL, command.toByteArray());
  }

  private static Command put(String key, String value, long session, long sequence, long millis) {
    return Command.newBuilder()
        .setProposedAtMillis(millis)
        .setSession(WriteSession.newBuilder().setSessionId(session).setSequence(sequence))
        .setPut(putRequest(key, value))
        .build();
  }

  private static PutRequest putRequest(String key, String value) {
    return PutRequest.newBuilder()
        .setKey(ByteString.copyFrom(bytes(key)))
        .setValue(ByteString.copyFrom(bytes(value)))
        .build();
  }

  private String value(String key) {
    return new String(
        engine.partition(3).get(bytes(key)).orElseThrow().value(), StandardCharsets.UTF_8);
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }
}
