package io.ringkv.jepsen.checker;

import static io.ringkv.jepsen.checker.TestHistories.history;
import static org.assertj.core.api.Assertions.assertThat;

import io.ringkv.jepsen.history.Op;
import io.ringkv.jepsen.model.ModelKind;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Proves the set checks: the simple one names acknowledged adds missing from the final read (lost),
 * elements no add could have written (unexpected, including definitely failed adds) and crashed
 * adds that did land (recovered), and does not blame adds acknowledged after the final read began;
 * the linearizable set model agrees on the same histories.
 */
class SetCheckerTest {
  private static final CheckLimits LIMITS =
      CheckLimits.defaults().withTimeLimit(Duration.ofMinutes(1));

  private static Verdict linearizable(List<Op> ops) {
    return LinearizabilityChecker.check(ops, ModelKind.SET.initial(null, false), LIMITS).verdict();
  }

  @Test
  void acknowledgedAddsAllInTheFinalReadIsValid() {
    List<Op> ops =
        history(
            "0 invoke add 1",
            "0 ok add 1",
            "1 invoke add 2",
            "1 info add 2",
            "2 invoke add 3",
            "2 fail add 3",
            "0 invoke read nil",
            "0 ok read #{1 2}");
    SetCheckResult result = SetChecker.check(ops);
    assertThat(result.verdict()).isEqualTo(Verdict.VALID);
    assertThat(result.acknowledgedCount()).isEqualTo(1);
    assertThat(result.recovered()).containsExactly(2L);
    assertThat(linearizable(ops)).isEqualTo(Verdict.VALID);
  }

  @Test
  void lostAndUnexpectedElementsAreNamed() {
    List<Op> ops =
        history(
            "0 invoke add 1",
            "0 ok add 1",
            "1 invoke add 2",
            "1 ok add 2",
            "2 invoke add 3",
            "2 fail add 3",
            "0 invoke read nil",
            "0 ok read [2 3 9]");
    SetCheckResult result = SetChecker.check(ops);
    assertThat(result.verdict()).isEqualTo(Verdict.INVALID);
    assertThat(result.lost()).containsExactly(1L);
    assertThat(result.unexpected()).containsExactly(3L, 9L);
    assertThat(linearizable(ops)).isEqualTo(Verdict.INVALID);
  }

  @Test
  void addsAcknowledgedAfterTheFinalReadBeganNeedNotAppear() {
    List<Op> ops = history("0 invoke add 1", "1 invoke read nil", "0 ok add 1", "1 ok read #{}");
    assertThat(SetChecker.check(ops).verdict()).isEqualTo(Verdict.VALID);
    assertThat(linearizable(ops)).isEqualTo(Verdict.VALID);
  }

  @Test
  void noSuccessfulReadIsUnknown() {
    SetCheckResult result = SetChecker.check(history("0 invoke add 1", "0 ok add 1"));
    assertThat(result.verdict()).isEqualTo(Verdict.UNKNOWN);
    assertThat(result.unknownReason()).isPresent();
  }
}
