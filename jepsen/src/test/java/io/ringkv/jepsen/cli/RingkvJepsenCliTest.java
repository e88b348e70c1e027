package io.ringkv.jepsen.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves the command line's contract: {@code check} prints the verdict and exits 0 for valid, 1 for
 * invalid (with a counter-example), 2 for unknown or for input it cannot read, with the line and
 * column of malformed EDN; options select the model, initial state, per-key mode and limits.
 */
class RingkvJepsenCliTest {
  @TempDir Path dir;

  private record Run(int status, String out, String err) {}

  private Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int status =
        RingkvJepsen.commandLine(new PrintWriter(out, true), new PrintWriter(err, true))
            .execute(args);
    return new Run(status, out.toString(), err.toString());
  }

  private Path file(String name, String text) throws Exception {
    Path file = dir.resolve(name);
    Files.writeString(file, text);
    return file;
  }

  @Test
  void validHistoryExitsZero() throws Exception {
    Path history =
        file(
            "ok.edn",
            "{:process 0 :type :invoke :f :write :value 1}\n"
                + "{:process 0 :type :ok :f :write :value 1}\n"
                + "{:process 1 :type :invoke :f :cas :value [1 2]}\n"
                + "{:process 1 :type :ok :f :cas :value [1 2]}\n");
    Run run = run("check", "--model", "cas-register", "--init", "0", history.toString());
    assertThat(run.status()).as(run.err()).isEqualTo(0);
    assertThat(run.out()).contains("verdict: valid");
  }

  @Test
  void invalidHistoryExitsOneWithACounterExample() throws Exception {
    Path history =
        file(
            "bad.edn",
            "[{:process 0 :type :invoke :f :write :value 1}\n"
                + " {:process 0 :type :ok :f :write :value 1}\n"
                + " {:process 1 :type :invoke :f :read :value nil}\n"
                + " {:process 1 :type :ok :f :read :value 0}]\n");
    Run run = run("check", "--model", "register", "--init", "0", history.toString());
    assertThat(run.status()).isEqualTo(1);
    assertThat(run.out())
        .contains("verdict: invalid")
        .contains("no linearization reaches past the completion of:")
        .contains("process 1 :read 0");
  }

  @Test
  void perKeyAndSetAndMutexModelsAreSelectable() throws Exception {
    Path keyed =
        file(
            "keyed.edn",
            "{:process 0 :type :invoke :f :write :value [7 1]}\n"
                + "{:process 0 :type :ok :f :write :value [7 1]}\n"
                + "{:process 1 :type :invoke :f :read :value [8 nil]}\n"
                + "{:process 1 :type :ok :f :read :value [8 1]}\n");
    Run perKey = run("check", "--model", "register", "--init", "0", "--per-key", keyed.toString());
    assertThat(perKey.status()).isEqualTo(1);
    assertThat(perKey.out()).contains("key 8: invalid").contains("keys: 2 (1 valid, 1 invalid");

    Path set =
        file(
            "set.edn",
            "{:process 0 :type :invoke :f :add :value 1}\n"
                + "{:process 0 :type :ok :f :add :value 1}\n"
                + "{:process 0 :type :invoke :f :read :value nil}\n"
                + "{:process 0 :type :ok :f :read :value #{}}\n");
    Run setRun = run("check", "--model", "set", set.toString());
    assertThat(setRun.status()).isEqualTo(1);
    assertThat(setRun.out()).contains("set check: invalid").contains("lost #{1}");

    Path mutex =
        file(
            "mutex.edn",
            "{:process 0 :type :invoke :f :acquire}\n{:process 0 :type :ok :f :acquire}\n");
    assertThat(run("check", "--model", "mutex", "--init", "unlocked", mutex.toString()).status())
        .isEqualTo(0);
  }

  @Test
  void malformedInputExitsTwoWithLineAndColumn() throws Exception {
    Path history =
        file("broken.edn", "{:process 0 :type :invoke :f :read}\n{:process 0 :type :ok :f :read");
    Run run = run("check", history.toString());
    assertThat(run.status()).isEqualTo(2);
    assertThat(run.err()).contains("broken.edn:2:1:").contains("never closed");

    assertThat(run("check", dir.resolve("missing.edn").toString()).status()).isEqualTo(2);
    assertThat(run("check", "--model", "queue", history.toString()).err())
        .contains("unknown model");
    Run badInit = run("check", "--init", "{:x", history.toString());
    assertThat(badInit.status()).isEqualTo(2);
    assertThat(badInit.err()).contains("--init:1:2: map key :x has no value");
  }

  @Test
  void unknownOptionsAreUsageErrorsWithStatusTwo() {
    assertThat(run("check", "--frobnicate", "x.edn").status()).isEqualTo(2);
    assertThat(run("no-such-command").status()).isEqualTo(2);
    assertThat(run("help", "check").out()).contains("--time-limit");
  }
}
