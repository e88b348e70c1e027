package io.ringkv.jepsen.harness;

import static org.assertj.core.api.Assertions.assertThat;

import io.ringkv.jepsen.history.Keyword;
import io.ringkv.jepsen.history.Op;
import io.ringkv.jepsen.history.OpType;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Proves a run whose nemesis met an UNIMPLEMENTED answer (a server without membership changes asked
 * to join a node) has no verdict, while other nemesis errors and client errors leave it to the
 * checkers.
 */
class UnimplementedFaultTest {
  @Test
  void onlyANemesisUnimplementedAnswerVoidsTheRun() {
    Op joinFailed =
        nemesisError(1, "join", "io.grpc.StatusRuntimeException: UNIMPLEMENTED: AddNode");
    Op otherError = nemesisError(2, "kill", "java.io.IOException: kill failed");
    Op clientUnimplemented =
        new Op(
            3,
            0L,
            OpType.FAIL,
            Keyword.of("read"),
            null,
            7,
            Map.of(Keyword.of("error"), "UNIMPLEMENTED"));
    assertThat(TestRunner.unimplementedFault(List.of(otherError, clientUnimplemented))).isNull();
    assertThat(TestRunner.unimplementedFault(List.of(otherError, joinFailed)))
        .contains(":join", "UNIMPLEMENTED");
  }

  private static Op nemesisError(long index, String f, String error) {
    return new Op(
        index,
        Keyword.of("nemesis"),
        OpType.INFO,
        Keyword.of(f),
        null,
        index,
        Map.of(Keyword.of("error"), error));
  }
}
