package io.ringkv.jepsen.checker;

import static org.assertj.core.api.Assertions.assertThat;

import io.ringkv.jepsen.history.Keyword;
import io.ringkv.jepsen.history.Op;
import io.ringkv.jepsen.model.Model;
import io.ringkv.jepsen.model.RegisterModel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Property tests against {@link SimulatedRegister}, a register that is linearizable by construction
 * (concurrent processes, random durations, crashes, failures). Every generated history must come
 * out valid, under both readings of nil. Then each is corrupted in two ways that make it
 * non-linearizable for certain, and must come out invalid: a read returns a value no one ever
 * wrote, or a read returns a value that a completed later write had already replaced (a stale
 * read). The same holds per key when several registers are interleaved as independent keys.
 *
 * <p>The base seed is printed; rerun with {@code -Dringkv.seed=<seed>} to replay exactly.
 */
class RegisterPropertyTest {
  private static final long BASE_SEED = Long.getLong("ringkv.seed", System.nanoTime());
  private static final int HISTORY_COUNT = 150;
  private static final int PER_KEY_HISTORY_COUNT = 30;
  private static final CheckLimits LIMITS =
      CheckLimits.defaults().withTimeLimit(Duration.ofMinutes(1));
  private static final Model CAS_REGISTER = RegisterModel.casRegister(null);
  private static final Model STRICT_CAS_REGISTER =
      RegisterModel.casRegister(null).withStrictNilReads();

  static {
    System.out.println("RegisterPropertyTest base seed: " + BASE_SEED + " (-Dringkv.seed=...)");
  }

  private static List<Op> simulate(SplittableRandom random, long processBase, Keyword key) {
    SimulatedRegister simulation =
        new SimulatedRegister(
            random,
            2 + random.nextInt(5),
            10 + random.nextInt(110),
            random.nextDouble() * 0.08,
            0.05,
            processBase);
    return SimulatedRegister.history(simulation.run(), key);
  }

  @Test
  void simulatedHistoriesAreValidAndTheirCorruptionsInvalid() {
    SplittableRandom seeds = new SplittableRandom(BASE_SEED);
    int unwrittenChecked = 0;
    int staleChecked = 0;
    for (int i = 0; i < HISTORY_COUNT; i++) {
      String replay = "history #" + i + " of base seed " + BASE_SEED;
      SplittableRandom random = seeds.split();
      List<Op> history = simulate(random, 0, null);
      assertThat(verdict(history, CAS_REGISTER)).as(replay).isEqualTo(Verdict.VALID);
      assertThat(verdict(history, STRICT_CAS_REGISTER)).as(replay).isEqualTo(Verdict.VALID);

      Optional<List<Op>> unwritten = readOfUnwrittenValue(history, random, null);
      if (unwritten.isPresent()) {
        unwrittenChecked++;
        assertThat(verdict(unwritten.get(), CAS_REGISTER))
            .as("%s with a read of a value never written", replay)
            .isEqualTo(Verdict.INVALID);
      }
      Optional<List<Op>> stale = staleRead(history, null);
      if (stale.isPresent()) {
        staleChecked++;
        assertThat(verdict(stale.get(), CAS_REGISTER))
            .as("%s with a stale read", replay)
            .isEqualTo(Verdict.INVALID);
      }
    }
    // The corruptions must actually have been exercised, not skipped for want of candidates.
    assertThat(unwrittenChecked).isGreaterThan(HISTORY_COUNT / 2);
    assertThat(staleChecked).isGreaterThan(HISTORY_COUNT / 3);
  }

  @Test
  void interleavedKeysAreValidPerKeyAndACorruptedKeyIsFound() {
    SplittableRandom seeds = new SplittableRandom(BASE_SEED ^ 0x5DEECE66DL);
    int corruptedChecked = 0;
    for (int i = 0; i < PER_KEY_HISTORY_COUNT; i++) {
      String replay = "per-key history #" + i + " of base seed " + BASE_SEED;
      SplittableRandom random = seeds.split();
      int keyCount = 2 + random.nextInt(4);
      List<Op> merged = new ArrayList<>();
      for (int k = 0; k < keyCount; k++) {
        merged.addAll(simulate(random, 100_000L * k, Keyword.of("k" + k)));
      }
      merged.sort(Comparator.comparingLong(Op::timeNanos));
      List<Op> history = new ArrayList<>();
      for (Op op : merged) {
        history.add(op.withIndex(history.size()));
      }
      PerKeyResult result = LinearizabilityChecker.checkPerKey(history, CAS_REGISTER, LIMITS);
      assertThat(result.verdict()).as(replay).isEqualTo(Verdict.VALID);
      assertThat(result.byKey()).as(replay).hasSize(keyCount);

      Keyword victim = Keyword.of("k" + random.nextInt(keyCount));
      Optional<List<Op>> stale = staleRead(history, victim);
      if (stale.isPresent()) {
        corruptedChecked++;
        PerKeyResult corrupted =
            LinearizabilityChecker.checkPerKey(stale.get(), CAS_REGISTER, LIMITS);
        assertThat(corrupted.verdict()).as(replay).isEqualTo(Verdict.INVALID);
        for (var key : corrupted.byKey().entrySet()) {
          assertThat(key.getValue().verdict())
              .as("%s key %s", replay, key.getKey())
              .isEqualTo(key.getKey().equals(victim) ? Verdict.INVALID : Verdict.VALID);
        }
      }
    }
    assertThat(corruptedChecked).isGreaterThan(PER_KEY_HISTORY_COUNT / 3);
  }

  private static Verdict verdict(List<Op> history, Model model) {
    return LinearizabilityChecker.check(history, model, LIMITS).verdict();
  }

  /** Operations of {@code key} (all when null), their values unwrapped. */
  private static List<Operation> operationsOf(List<Op> history, Keyword key) {
    List<Operation> operations = Operations.pair(history);
    if (key == null) {
      return operations;
    }
    return Operations.splitByKey(operations).getOrDefault(key, List.of());
  }

  private static List<Op> withCompletionValue(
      List<Op> history, Operation read, Object value, Keyword key) {
    List<Op> corrupted = new ArrayList<>(history);
    Object stored = key == null ? value : Arrays.asList(key, value);
    corrupted.set(read.completePosition(), read.completion().withValue(stored));
    return corrupted;
  }

  /** A random {@code :ok} read now returns -1, which no operation ever writes. */
  private static Optional<List<Op>> readOfUnwrittenValue(
      List<Op> history, SplittableRandom random, Keyword key) {
    List<Operation> reads =
        operationsOf(history, key).stream()
            .filter(o -> o.f().equals(SimulatedRegister.READ) && !o.crashed())
            .toList();
    if (reads.isEmpty()) {
      return Optional.empty();
    }
    Operation read = reads.get(random.nextInt(reads.size()));
    return Optional.of(withCompletionValue(history, read, -1L, key));
  }

  /**
   * Finds writes A and B and a read R, all {@code :ok}, with A completed before B was invoked and B
   * completed before R was invoked, and makes R return A's value. Values are unique, so nothing
   * could have written A's value again: R is stale in every order.
   */
  private static Optional<List<Op>> staleRead(List<Op> history, Keyword key) {
    List<Operation> operations = operationsOf(history, key);
    List<Operation> writes =
        operations.stream().filter(o -> !o.crashed() && writtenValue(o) != null).toList();
    for (Operation read : operations) {
      if (!read.f().equals(SimulatedRegister.READ) || read.crashed()) {
        continue;
      }
      for (Operation b : writes) {
        if (b.completePosition() >= read.invokePosition()) {
          continue;
        }
        for (Operation a : writes) {
          if (a.completePosition() < b.invokePosition()) {
            return Optional.of(withCompletionValue(history, read, writtenValue(a), key));
          }
        }
      }
    }
    return Optional.empty();
  }

  private static Object writtenValue(Operation operation) {
    if (operation.f().equals(SimulatedRegister.WRITE)) {
      return operation.value();
    }
    if (operation.f().equals(SimulatedRegister.CAS)) {
      return ((List<?>) operation.value()).get(1);
    }
    return null;
  }
}
