package io.ringkv.server.raft;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.ringkv.proto.internal.Command;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.proto.v1.RequestOp;
import io.ringkv.proto.v1.TxnRequest;
import io.ringkv.raft.Entry;
import io.ringkv.raft.EntryType;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Proves the apply batch splitter alone: each entry's record bound is read from its bytes (one
 * session record plus one per Put, Delete or Txn operation; none for no-ops), runs stay within the
 * record and byte limits and keep log order, and an entry heavier than a batch goes alone.
 */
class ApplyBatchSplitterTest {
  private static Entry entry(long index, Command command) {
    return new Entry(1, index, EntryType.NORMAL, command.toByteArray());
  }

  private static Command put(String key, int valueBytes) {
    return Command.newBuilder()
        .setRequestId(7)
        .setPut(
            PutRequest.newBuilder()
                .setKey(ByteString.copyFromUtf8(key))
                .setValue(ByteString.copyFrom(new byte[valueBytes])))
        .build();
  }

  private static Command txn(int ops) {
    TxnRequest.Builder txn = TxnRequest.newBuilder();
    for (int i = 0; i < ops; i++) {
      txn.addSuccess(RequestOp.newBuilder().setPut(put("k" + i, 1).getPut()));
    }
    return Command.newBuilder().setTxn(txn).build();
  }

  @Test
  void recordBoundCountsSessionAndOperations() {
    assertThat(ApplyBatchSplitter.recordsUpperBound(entry(1, put("a", 1)))).isEqualTo(2);
    assertThat(ApplyBatchSplitter.recordsUpperBound(entry(1, txn(40)))).isEqualTo(41);
    assertThat(ApplyBatchSplitter.recordsUpperBound(new Entry(1, 1, EntryType.NORMAL, new byte[0])))
        .isZero();
  }

  @Test
  void runsStayWithinRecordsAndBytesInLogOrder() {
    ApplyBatchSplitter splitter = new ApplyBatchSplitter(100, 10_000);
    List<Entry> entries = new ArrayList<>();
    for (int i = 1; i <= 30; i++) {
      entries.add(entry(i, txn(9))); // 10 records each: 10 per run
    }
    List<List<Entry>> runs = splitter.split(entries);
    assertThat(runs).hasSize(3).allSatisfy(run -> assertThat(run).hasSize(10));
    assertThat(runs.stream().flatMap(List::stream).toList()).isEqualTo(entries);

    List<Entry> large = List.of(entry(1, put("a", 3_000)), entry(2, put("b", 3_000)));
    assertThat(splitter.split(large)).as("half of 10,000 bytes per run").hasSize(2);
    assertThat(splitter.split(List.of(entry(1, txn(300))))).hasSize(1);
  }
}
