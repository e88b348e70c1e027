package io.ringkv.jepsen.checker;

import static io.ringkv.jepsen.checker.TestHistories.history;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ringkv.jepsen.history.Keyword;
import io.ringkv.jepsen.history.Op;
import io.ringkv.jepsen.model.Model;
import io.ringkv.jepsen.model.MutexModel;
import io.ringkv.jepsen.model.RegisterModel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Proves the search's semantics on small hand-written histories, each chosen so that one common
 * mistake flips its verdict: overlapping operations may take effect in either order; {@code :fail}
 * operations did not happen; crashed ({@code :info} or never completed) operations may take effect
 * at any instant after their invoke, including after later operations, or never; they never take
 * effect before their invoke; nemesis entries are ignored. Also proves the counter-example points
 * at the operation that cannot be placed, that per-key checking splits independent keys, and that a
 * spent time or memory budget gives {@code unknown}, never a guess.
 */
class LinearizabilityCheckerTest {
  private static final CheckLimits LIMITS =
      CheckLimits.defaults().withTimeLimit(Duration.ofMinutes(1));
  private static final Model REGISTER_ZERO = RegisterModel.casRegister(0L);

  private static Verdict verdict(Model model, String... lines) {
    return LinearizabilityChecker.check(history(lines), model, LIMITS).verdict();
  }

  @Test
  void sequentialReadsMustSeeTheLastWrite() {
    assertThat(
            verdict(
                REGISTER_ZERO,
                "0 invoke write 1",
                "0 ok write 1",
                "1 invoke read nil",
                "1 ok read 1"))
        .isEqualTo(Verdict.VALID);
    assertThat(
            verdict(
                REGISTER_ZERO,
                "0 invoke write 1",
                "0 ok write 1",
                "1 invoke read nil",
                "1 ok read 0"))
        .isEqualTo(Verdict.INVALID);
  }

  @Test
  void overlappingOperationsMayTakeEffectInEitherOrder() {
    for (String seen : List.of("0", "1")) {
      assertThat(
              verdict(
                  REGISTER_ZERO,
                  "0 invoke write 1",
                  "1 invoke read nil",
                  "1 ok read " + seen,
                  "0 ok write 1"))
          .as("read of %s concurrent with write 1", seen)
          .isEqualTo(Verdict.VALID);
    }
  }

  @Test
  void failedOperationsDidNotHappen() {
    assertThat(
            verdict(
                REGISTER_ZERO,
                "0 invoke write 1",
                "0 fail write 1",
                "1 invoke read nil",
                "1 ok read 1"))
        .isEqualTo(Verdict.INVALID);
    // A failed op does not hold its process: the process may invoke again.
    assertThat(
            verdict(
                REGISTER_ZERO,
                "0 invoke cas [5 6]",
                "0 fail cas [5 6]",
                "0 invoke read nil",
                "0 ok read 0"))
        .isEqualTo(Verdict.VALID);
  }

  @Test
  void crashedWritesMayTakeEffectLaterThanLaterOperationsOrNever() {
    // Crashed write 1 takes effect after write 2 completed: the last read sees 1.
    assertThat(
            verdict(
                REGISTER_ZERO,
                "0 invoke write 1",
                "0 info write 1",
                "1 invoke write 2",
                "1 ok write 2",
                "2 invoke read nil",
                "2 ok read 2",
                "3 invoke read nil",
                "3 ok read 1"))
        .isEqualTo(Verdict.VALID);
    // A crashed CAS whose compare can never match simply never happened.
    assertThat(
            verdict(
                REGISTER_ZERO,
                "0 invoke cas [7 8]",
                "0 info cas [7 8]",
                "1 invoke read nil",
                "1 ok read 0"))
        .isEqualTo(Verdict.VALID);
    // An invoke that never completes counts as crashed.
    assertThat(verdict(REGISTER_ZERO, "0 invoke write 3", "1 invoke read nil", "1 ok read 3"))
        .isEqualTo(Verdict.VALID);
  }

  @Test
  void crashedWritesNeverTakeEffectBeforeTheirInvoke() {
    assertThat(
            verdict(
                REGISTER_ZERO,
                "1 invoke read nil",
                "1 ok read 4",
                "0 invoke write 4",
                "0 info write 4"))
        .isEqualTo(Verdict.INVALID);
  }

  @Test
  void nemesisEntriesAreIgnored() {
    assertThat(
            verdict(
                REGISTER_ZERO,
                "nemesis info start nil",
                "0 invoke write 1",
                "nemesis info stop \"healed\"",
                "0 ok write 1"))
        .isEqualTo(Verdict.VALID);
  }

  @Test
  void mutexRejectsTwoHoldersAtOnce() {
    assertThat(
            verdict(
                MutexModel.FREE,
                "0 invoke acquire nil",
                "0 ok acquire nil",
                "1 invoke acquire nil",
                "1 ok acquire nil"))
        .isEqualTo(Verdict.INVALID);
  }

  @Test
  void counterExampleNamesTheBlockedOperationItsRivalsAndTheLongestPrefix() {
    LinearizabilityResult result =
        LinearizabilityChecker.check(
            history(
                "0 invoke write 1",
                "0 ok write 1",
                "1 invoke write 2",
                "2 invoke read nil",
                "2 ok read 3",
                "1 ok write 2"),
            REGISTER_ZERO,
            LIMITS);
    assertThat(result.verdict()).isEqualTo(Verdict.INVALID);
    CounterExample example = result.counterExample().orElseThrow();
    assertThat(example.blocked().f()).isEqualTo(Keyword.of("read"));
    assertThat(example.blocked().value()).isEqualTo(3L);
    assertThat(example.statesAtBlock())
        .containsExactlyInAnyOrder(RegisterModel.casRegister(1L), RegisterModel.casRegister(2L));
    assertThat(example.longestPrefix()).hasSize(2);
    assertThat(example.longestPrefix().get(0).value()).isEqualTo(1L);
    assertThat(example.stateAfterPrefix()).isEqualTo(RegisterModel.casRegister(2L));
    assertThat(example.describe(10)).contains("process 2 :read 3");
  }

  @Test
  void perKeyChecksEachIndependentKeyAlone() {
    List<Op> ops =
        history(
            "0 invoke write [:a 1]",
            "0 ok write [:a 1]",
            "1 invoke write [:b 2]",
            "1 ok write [:b 2]",
            "2 invoke read [:a nil]",
            "2 ok read [:a 1]",
            "3 invoke read [:b nil]",
            "3 ok read [:b 2]");
    PerKeyResult valid =
        LinearizabilityChecker.checkPerKey(ops, RegisterModel.register(0L), LIMITS);
    assertThat(valid.verdict()).isEqualTo(Verdict.VALID);
    assertThat(valid.byKey()).containsOnlyKeys(Keyword.of("a"), Keyword.of("b"));
    // Read as one register, the same history is not linearizable.
    assertThat(LinearizabilityChecker.check(ops, RegisterModel.register(0L), LIMITS).verdict())
        .isEqualTo(Verdict.INVALID);

    List<Op> staleB = new ArrayList<>(ops);
    staleB.add(history("4 invoke read [:b nil]").get(0).withIndex(8));
    staleB.add(history("4 ok read [:b 0]").get(0).withIndex(9));
    PerKeyResult invalid =
        LinearizabilityChecker.checkPerKey(staleB, RegisterModel.register(0L), LIMITS);
    assertThat(invalid.verdict()).isEqualTo(Verdict.INVALID);
    assertThat(invalid.byKey().get(Keyword.of("a")).verdict()).isEqualTo(Verdict.VALID);
    assertThat(invalid.byKey().get(Keyword.of("b")).verdict()).isEqualTo(Verdict.INVALID);

    assertThatThrownBy(() ->
            LinearizabilityChecker.checkPerKey(
                history("0 invoke write 1"), RegisterModel.register(0L), LIMITS))
        .hasMessageContaining("[key value] tuples");
  }

  @Test
  void malformedHistoriesAndUnknownOperationsAreRejected() {
    assertThatThrownBy(() -> verdict(REGISTER_ZERO, "0 ok write 1"))
        .hasMessageContaining("without a pending invoke");
    assertThatThrownBy(() -> verdict(REGISTER_ZERO, "0 invoke write 1", "0 invoke write 2"))
        .hasMessageContaining("still pending");
    assertThatThrownBy(() -> verdict(REGISTER_ZERO, "0 invoke incr 1", "0 ok incr 1"))
        .hasMessageContaining("op at index 0")
        .hasMessageContaining("no operation :incr");
  }

  /** Twelve concurrent writes and a read of a value nobody wrote: 2^12 configurations to refute. */
  private static List<Op> hardInvalidHistory() {
    List<String> lines = new ArrayList<>();
    for (int p = 0; p < 12; p++) {
      lines.add(p + " invoke write " + (p + 1));
    }
    lines.add("99 invoke read nil");
    lines.add("99 ok read 1000");
    for (int p = 0; p < 12; p++) {
      lines.add(p + " ok write " + (p + 1));
    }
    return history(lines.toArray(String[]::new));
  }

  @Test
  void spentTimeBudgetGivesUnknown() {
    AtomicLong nanos = new AtomicLong();
    CheckLimits limits =
        LIMITS
            .withTimeLimit(Duration.ofSeconds(1))
            .withNanoClock(() -> nanos.addAndGet(Duration.ofSeconds(2).toNanos()));
    LinearizabilityResult result =
        LinearizabilityChecker.check(hardInvalidHistory(), REGISTER_ZERO, limits);
    assertThat(result.verdict()).isEqualTo(Verdict.UNKNOWN);
    assertThat(result.unknownReason()).hasValueSatisfying(r -> assertThat(r).contains("time"));
    assertThat(result.counterExample()).isEmpty();
    // With time to spare the same history is refuted.
    assertThat(LinearizabilityChecker.check(hardInvalidHistory(), REGISTER_ZERO, LIMITS).verdict())
        .isEqualTo(Verdict.INVALID);
  }

  @Test
  void spentMemoryBudgetGivesUnknown() {
    LinearizabilityResult result =
        LinearizabilityChecker.check(
            hardInvalidHistory(), REGISTER_ZERO, LIMITS.withMemoryBytesMax(10_000));
    assertThat(result.verdict()).isEqualTo(Verdict.UNKNOWN);
    assertThat(result.unknownReason()).hasValueSatisfying(r -> assertThat(r).contains("memory"));
  }
}
