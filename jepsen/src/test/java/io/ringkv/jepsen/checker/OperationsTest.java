package io.ringkv.jepsen.checker;

import static io.ringkv.jepsen.checker.TestHistories.history;
import static org.assertj.core.api.Assertions.assertThat;

import io.ringkv.jepsen.history.Keyword;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Proves how a history becomes operations: an {@code :ok} completion's value replaces the invoke's
 * (reads are invoked with nil), a crash keeps the invoke's value and stays open, {@code :fail}
 * pairs and stray {@code :info} entries vanish, a crashed process id may come back, and per-key
 * splitting strips the key from every value.
 */
class OperationsTest {
  @Test
  void pairsInvokesWithTheirCompletions() {
    List<Operation> operations =
        Operations.pair(
            history(
                "0 invoke read nil",
                "nemesis info partition \"majority\"",
                "1 invoke write 3",
                "2 invoke cas [1 2]",
                "0 ok read 5",
                "1 info write 3",
                "2 fail cas [1 2]",
                "3 invoke write 9",
                "1 invoke read nil"));
    assertThat(operations).hasSize(4);
    Operation read = operations.get(0);
    assertThat(read.value()).isEqualTo(5L);
    assertThat(read.invokePosition()).isEqualTo(0);
    assertThat(read.completePosition()).isEqualTo(4);
    assertThat(read.crashed()).isFalse();
    Operation crashed = operations.get(1);
    assertThat(crashed.value()).isEqualTo(3L);
    assertThat(crashed.crashed()).isTrue();
    assertThat(crashed.completePosition()).isEqualTo(Operation.OPEN);
    Operation neverCompleted = operations.get(2);
    assertThat(neverCompleted.value()).isEqualTo(9L);
    assertThat(neverCompleted.crashed()).isTrue();
    assertThat(neverCompleted.completion()).isNull();
    assertThat(operations.get(3).process()).isEqualTo(1L);
    assertThat(operations.get(3).crashed()).isTrue();
  }

  @Test
  void splitsIndependentKeysInOrderOfFirstAppearance() {
    Map<Object, List<Operation>> byKey =
        Operations.splitByKey(
            Operations.pair(
                history(
                    "0 invoke write [:b 1]",
                    "1 invoke read [:a nil]",
                    "0 ok write [:b 1]",
                    "1 ok read [:a 7]")));
    assertThat(byKey.keySet()).containsExactly(Keyword.of("b"), Keyword.of("a"));
    assertThat(byKey.get(Keyword.of("a")).get(0).value()).isEqualTo(7L);
    assertThat(byKey.get(Keyword.of("b")).get(0).value()).isEqualTo(1L);
  }
}
