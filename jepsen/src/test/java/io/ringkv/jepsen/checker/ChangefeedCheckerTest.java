package io.ringkv.jepsen.checker;

import static io.ringkv.jepsen.checker.TestHistories.history;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ringkv.jepsen.checker.ChangefeedAnomaly.Rule;
import io.ringkv.jepsen.history.Op;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Proves each rule of the changefeed checker on small hand-written histories: a clean history with
 * a resume, an :info write seen and one not seen is valid; each defect (a missing acknowledged
 * write, a duplicate across a resume, a key's events out of order, a value no write produced, a
 * failed write's value, two consumers disagreeing) makes it invalid and names the event or write; a
 * write acknowledged before the consumer was established is not required; a consumer that never got
 * a stream, or whose stream hit COMPACTED, makes the verdict unknown instead of valid. Consumers
 * are processes 100 and 101 here; writers 0..2.
 */
class ChangefeedCheckerTest {
  /** The start of every history: consumer 0 established on node 1, from an empty cursor. */
  private static final String[] ESTABLISHED = {
    "100 invoke watch {:consumer 0 :node 1 :cursor {}}",
    "100 ok watch {:consumer 0 :node 1 :cursor {} :watch-id 7}",
  };

  private static List<Op> withConsumer(String... lines) {
    List<String> all = new ArrayList<>(Arrays.asList(ESTABLISHED));
    all.addAll(Arrays.asList(lines));
    return entries(all.toArray(String[]::new));
  }

  /** A history of these entries; an argument may hold several, one per line. */
  private static List<Op> entries(String... lines) {
    return history(String.join("\n", lines).split("\n"));
  }

  /** A write by {@code process} of {@code value} to {@code key}, invoked and ended {@code how}. */
  private static String write(int process, String how, int key, int value) {
    String tuple = " write [" + key + " " + value + "]";
    return process + " invoke" + tuple + "\n" + process + " " + how + tuple;
  }

  private static String poll(String events, String cursor) {
    return "100 ok poll {:consumer 0 :events " + events + " :cursor " + cursor + "}";
  }

  private static final String INVOKE_POLL = "100 invoke poll {:consumer 0}";

  @Test
  void cleanHistoryWithAResumeIsValid() {
    ChangefeedCheckResult result =
        ChangefeedChecker.check(
            withConsumer(
                write(0, "ok", 1, 10),
                write(1, "info", 1, 11),
                write(2, "info", 2, 12),
                write(3, "fail", 2, 13),
                INVOKE_POLL,
                poll("[[0 5 0 1 10]]", "{0 5}"),
                "100 invoke cancel {:consumer 0}",
                "100 ok cancel {:consumer 0 :discarded 1}",
                "100 invoke watch {:consumer 0 :node 2 :cursor {0 5}}",
                "100 ok watch {:consumer 0 :node 2 :cursor {0 5} :watch-id 3}",
                INVOKE_POLL,
                poll("[[0 6 0 1 11]]", "{0 6}")));
    assertThat(result.verdict()).as(result.anomalies().toString()).isEqualTo(Verdict.VALID);
    assertThat(result.acknowledgedCount()).isEqualTo(1);
    assertThat(result.streamCount()).isEqualTo(2);
    assertThat(result.eventCount()).isEqualTo(2);
    assertThat(result.recoveredCount()).isEqualTo(1);
  }

  @Test
  void acknowledgedWriteMissingFromAStreamIsNamed() {
    ChangefeedCheckResult result =
        ChangefeedChecker.check(
            withConsumer(
                write(0, "ok", 1, 10),
                write(1, "ok", 1, 11),
                INVOKE_POLL,
                poll("[[0 6 0 1 11]]", "{0 6}")));
    assertThat(result.verdict()).isEqualTo(Verdict.INVALID);
    assertThat(result.of(Rule.MISSING))
        .singleElement()
        .satisfies(a -> {
          assertThat(a.value()).isEqualTo(10L);
          assertThat(a.key()).isEqualTo(1L);
          assertThat(a.describe()).contains("missing", "value 10");
        });
  }

  @Test
  void writeAcknowledgedBeforeTheConsumerWasEstablishedIsNotRequired() {
    ChangefeedCheckResult result =
        ChangefeedChecker.check(
            entries(
                write(0, "ok", 1, 10),
                "100 invoke watch {:consumer 0 :node 1 :cursor {}}",
                "100 ok watch {:consumer 0 :node 1 :cursor {0 9} :watch-id 7}",
                write(1, "ok", 1, 11),
                INVOKE_POLL,
                poll("[[0 10 0 1 11]]", "{0 10}")));
    assertThat(result.verdict()).isEqualTo(Verdict.VALID);
  }

  @Test
  void eventDeliveredTwiceAcrossAResumeIsADuplicate() {
    ChangefeedCheckResult result =
        ChangefeedChecker.check(
            withConsumer(
                write(0, "ok", 1, 10),
                INVOKE_POLL,
                poll("[[0 5 0 1 10]]", "{0 5}"),
                "100 invoke cancel {:consumer 0}",
                "100 ok cancel {:consumer 0 :discarded 0}",
                "100 invoke watch {:consumer 0 :node 2 :cursor {0 5}}",
                "100 ok watch {:consumer 0 :node 2 :cursor {0 5} :watch-id 3}",
                INVOKE_POLL,
                poll("[[0 5 0 1 10]]", "{0 5}")));
    assertThat(result.verdict()).isEqualTo(Verdict.INVALID);
    assertThat(result.of(Rule.DUPLICATE))
        .singleElement()
        .satisfies(a -> assertThat(a.event()).isEqualTo(new ChangefeedEvent.Id(0, 5, 0)));
    assertThat(result.of(Rule.OUT_OF_ORDER)).isEmpty();
  }

  @Test
  void sameRevisionWithAnotherOrdinalIsNoDuplicate() {
    ChangefeedCheckResult result =
        ChangefeedChecker.check(
            withConsumer(
                write(0, "ok", 1, 10),
                write(1, "ok", 2, 11),
                INVOKE_POLL,
                poll("[[0 5 0 1 10] [0 5 1 2 11]]", "{0 5}")));
    assertThat(result.verdict()).isEqualTo(Verdict.VALID);
  }

  @Test
  void keysEventsOutOfRevisionOrderAreCaught() {
    ChangefeedCheckResult result =
        ChangefeedChecker.check(
            withConsumer(
                write(0, "ok", 1, 10),
                write(1, "ok", 1, 11),
                write(2, "ok", 2, 12),
                INVOKE_POLL,
                poll("[[0 6 0 1 11] [3 2 0 2 12] [0 5 0 1 10]]", "{0 6 3 2}")));
    assertThat(result.verdict()).isEqualTo(Verdict.INVALID);
    assertThat(result.of(Rule.OUT_OF_ORDER))
        .singleElement()
        .satisfies(a -> {
          assertThat(a.event()).isEqualTo(new ChangefeedEvent.Id(0, 5, 0));
          assertThat(a.why()).contains("[0 6 0]");
        });
  }

  @Test
  void valuesNoWriteProducedAreUnexpected() {
    ChangefeedCheckResult result =
        ChangefeedChecker.check(
            withConsumer(
                write(0, "ok", 1, 10),
                write(1, "fail", 1, 11),
                write(2, "ok", 2, 12),
                INVOKE_POLL,
                poll(
                    "[[0 5 0 1 10] [0 6 0 1 11] [0 7 0 1 99] [0 8 0 1 12] [0 9 0 1 :deleted]"
                        + " [0 10 0 1 13]]",
                    "{0 10}"),
                write(0, "info", 1, 13)));
    assertThat(result.verdict()).isEqualTo(Verdict.INVALID);
    assertThat(result.of(Rule.UNEXPECTED))
        .extracting(ChangefeedAnomaly::why)
        .containsExactly(
            "the write of this value failed",
            "no write of this value",
            "the value was written to key 2",
            "a DELETE; the workload never deletes",
            "delivered before its write was invoked (position 10)");
    assertThat(result.of(Rule.MISSING)).isEmpty();
  }

  @Test
  void consumersDisagreeingOnAnEventAreDivergent() {
    ChangefeedCheckResult result =
        ChangefeedChecker.check(
            withConsumer(
                write(0, "ok", 1, 10),
                write(1, "info", 1, 11),
                "101 invoke watch {:consumer 1 :node 3 :cursor {}}",
                "101 ok watch {:consumer 1 :node 3 :cursor {} :watch-id 2}",
                INVOKE_POLL,
                poll("[[0 5 0 1 10] [0 6 0 1 11]]", "{0 6}"),
                "101 invoke poll {:consumer 1}",
                "101 ok poll {:consumer 1 :events [[0 5 0 1 11] [0 6 0 1 10]] :cursor {0 6}}"));
    assertThat(result.verdict()).isEqualTo(Verdict.INVALID);
    assertThat(result.of(Rule.DIVERGENT)).hasSize(2);
    assertThat(result.of(Rule.DIVERGENT).getFirst().why())
        .contains("consumer 1 saw key 1 value 11");
  }

  @Test
  void consumerNeverEstablishedMakesTheVerdictUnknown() {
    ChangefeedCheckResult result =
        ChangefeedChecker.check(
            entries(
                write(0, "ok", 1, 10),
                "100 invoke watch {:consumer 0 :node 1 :cursor {}}",
                "100 fail watch {:consumer 0 :node 1 :error \"UNAVAILABLE\"}"));
    assertThat(result.verdict()).isEqualTo(Verdict.UNKNOWN);
    assertThat(result.unknownReason()).hasValueSatisfying(r -> assertThat(r).contains("never"));
  }

  @Test
  void compactedConsumerIsNotBlamedForGapsButIsNotValidEither() {
    ChangefeedCheckResult result =
        ChangefeedChecker.check(
            withConsumer(
                write(0, "ok", 1, 10),
                INVOKE_POLL,
                "100 fail poll {:consumer 0 :compacted true :error \"FAILED_PRECONDITION\"}"));
    assertThat(result.verdict()).isEqualTo(Verdict.UNKNOWN);
    assertThat(result.unknownReason()).hasValueSatisfying(r -> assertThat(r).contains("COMPACTED"));
  }

  @Test
  void malformedHistoriesAreRejected() {
    assertThatThrownBy(() ->
            ChangefeedChecker.check(history("0 invoke write [1 10]", "1 invoke write [2 10]")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("written twice");
    assertThatThrownBy(
            () -> ChangefeedChecker.check(withConsumer(INVOKE_POLL, poll("[[0 5]]", "{}"))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("[partition revision ordinal key value]");
  }
}
