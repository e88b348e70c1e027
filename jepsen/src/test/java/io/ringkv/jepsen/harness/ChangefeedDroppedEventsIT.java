package io.ringkv.jepsen.harness;

import static org.assertj.core.api.Assertions.assertThat;

import io.ringkv.jepsen.history.EdnReader;
import io.ringkv.jepsen.history.HistoryReader;
import io.ringkv.jepsen.history.Keyword;
import io.ringkv.jepsen.history.Op;
import io.ringkv.jepsen.history.OpType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves the changefeed workload catches a gap in a stream: three real nodes started with their
 * test-only switch that drops every 1,000th event a Watch stream delivers, consumers whose streams
 * live longer than the run (so one stream carries more than 1,000 events), no nemesis. The verdict
 * is invalid (exit 1) and results.edn names a missing write that the history shows acknowledged.
 * About 90 s on real node processes (addresses 127.0.0.46-48); run it by name, as the CI script
 * does not:
 *
 * <pre>flock /tmp/ringkv-realnode.lock ./mvnw -B -q -pl jepsen -am test \
 *   -Dtest=ChangefeedDroppedEventsIT -Dsurefire.failIfNoSpecifiedTests=false</pre>
 *
 * The same run from the command line: {@code bin/ringkv-jepsen test --workload changefeed --nemesis
 * none --nodes 3 --address-base 45 --time-limit 45 --rate 300 --concurrency 8 --keys 32 --consumers
 * 2 --stream-seconds 600 --debug-watch-drop-one-in 1000 --seed 5}.
 */
class ChangefeedDroppedEventsIT {
  @TempDir Path store;

  @Test
  @Timeout(300)
  void droppedEventIsNamedAsAMissingWrite() throws Exception {
    CliRun run =
        CliRun.of(
            "test",
            "--workload",
            "changefeed",
            "--nemesis",
            "none",
            "--nodes",
            "3",
            "--address-base",
            "45",
            "--time-limit",
            "45",
            "--rate",
            "300",
            "--concurrency",
            "8",
            "--keys",
            "32",
            "--consumers",
            "2",
            "--stream-seconds",
            "600",
            "--debug-watch-drop-one-in",
            "1000",
            "--seed",
            "5",
            "--store",
            store.toString());
    String printed = run.printed();
    int status = run.status();
    System.out.println(printed);
    assertThat(status).as(printed).isEqualTo(TestRunner.EXIT_INVALID);
    assertThat(printed).contains("verdict: invalid", ":missing: consumer");
    Path runDir;
    try (Stream<Path> runs = Files.list(store.resolve("changefeed-none"))) {
      runDir = runs.toList().getFirst();
    }
    Map<?, ?> results =
        (Map<?, ?>) EdnReader.readOne(Files.readString(runDir.resolve("results.edn")), "results");
    Map<?, ?> checker =
        (Map<?, ?>) ((Map<?, ?>) results.get(Keyword.of("checkers"))).get(Keyword.of("changefeed"));
    Map<?, ?> missing =
        ((List<?>) checker.get(Keyword.of("anomalies")))
            .stream()
                .map(Map.class::cast)
                .filter(a -> Keyword.of("missing").equals(a.get(Keyword.of("rule"))))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no missing write in " + checker));
    List<Object> write = List.of(missing.get(Keyword.of("key")), missing.get(Keyword.of("value")));
    List<Op> history = HistoryReader.read(runDir.resolve("history.edn"));
    assertThat(history)
        .as("the missing write %s was acknowledged", write)
        .anyMatch(op ->
            op.type() == OpType.OK
                && ChangefeedWorkload.WRITE.equals(op.f())
                && write.equals(op.value()));
  }
}
