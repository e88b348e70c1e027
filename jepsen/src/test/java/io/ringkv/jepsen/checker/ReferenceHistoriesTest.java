package io.ringkv.jepsen.checker;

import static org.assertj.core.api.Assertions.assertThat;

import io.ringkv.jepsen.cli.ReferenceHistories;
import io.ringkv.jepsen.history.HistoryReader;
import io.ringkv.jepsen.history.Op;
import io.ringkv.jepsen.model.Model;
import io.ringkv.jepsen.model.ModelKind;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * Proves the checker agrees with every published verdict of the shared reference histories ({@code
 * <repo>/../shared/histories/*}/expected.tsv): valid files come out valid and invalid ones invalid,
 * with the model and initial state the table names. For cas-register files it also checks the other
 * reading of nil that the histories' README allows (nil is a real value and the register starts
 * absent), which must give the same verdicts. The files are test data provided next to the
 * repository (by CI); they are read in place, never copied, and their absence fails the test.
 */
class ReferenceHistoriesTest {
  /** Generous: every file takes well under a second; only a hang should hit this. */
  private static final Duration TIME_LIMIT = Duration.ofMinutes(2);

  static Path historiesRoot() {
    String repoRoot = System.getProperty("ringkv.repo.root");
    assertThat(repoRoot)
        .as("system property ringkv.repo.root (set by surefire to the reactor root)")
        .isNotBlank();
    Path root = Paths.get(repoRoot).toAbsolutePath().normalize().resolve("../shared/histories");
    assertThat(Files.isDirectory(root))
        .as(
            "the reference histories folder %s is missing: it is test data that CI provides next"
                + " to the repository (../shared/histories with expected.tsv files)",
            root.normalize())
        .isTrue();
    return root.normalize();
  }

  static List<ReferenceHistories.Entry> entries() throws Exception {
    List<ReferenceHistories.Entry> entries = new ArrayList<>();
    try (Stream<Path> tables = Files.walk(historiesRoot())) {
      for (Path table : tables.filter(p -> p.endsWith("expected.tsv")).sorted().toList()) {
        entries.addAll(ReferenceHistories.read(table.getParent()));
      }
    }
    assertThat(entries).as("rows of expected.tsv files under %s", historiesRoot()).isNotEmpty();
    return entries;
  }

  @Test
  void everyReferenceHistoryGetsItsPublishedVerdict() throws Exception {
    List<Executable> checks = new ArrayList<>();
    for (ReferenceHistories.Entry entry : entries()) {
      if (entry.expected() == Verdict.UNKNOWN) {
        continue; // nothing published to agree with
      }
      checks.add(() -> assertVerdict(entry, entry.model().initial(entry.init(), false)));
    }
    org.junit.jupiter.api.Assertions.assertAll(checks);
  }

  @Test
  void casRegisterVerdictsHoldWithStrictNilReadsFromAnAbsentRegister() throws Exception {
    List<Executable> checks = new ArrayList<>();
    for (ReferenceHistories.Entry entry : entries()) {
      if (entry.expected() != Verdict.UNKNOWN && entry.model() == ModelKind.CAS_REGISTER) {
        checks.add(() -> assertVerdict(entry, ModelKind.CAS_REGISTER.initial(null, true)));
      }
    }
    assertThat(checks).isNotEmpty();
    org.junit.jupiter.api.Assertions.assertAll(checks);
  }

  private static void assertVerdict(ReferenceHistories.Entry entry, Model initial)
      throws Exception {
    List<Op> history = HistoryReader.read(entry.file());
    LinearizabilityResult result =
        LinearizabilityChecker.check(
            history, initial, CheckLimits.defaults().withTimeLimit(TIME_LIMIT));
    assertThat(result.verdict())
        .as("%s checked as %s from %s", entry.name(), entry.model().cliName(), initial)
        .isEqualTo(entry.expected());
  }
}
