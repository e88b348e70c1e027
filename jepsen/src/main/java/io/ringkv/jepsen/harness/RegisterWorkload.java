package io.ringkv.jepsen.harness;

import io.ringkv.jepsen.checker.CheckLimits;
import io.ringkv.jepsen.checker.LinearizabilityChecker;
import io.ringkv.jepsen.checker.LinearizabilityResult;
import io.ringkv.jepsen.checker.PerKeyResult;
import io.ringkv.jepsen.checker.Verdict;
import io.ringkv.jepsen.harness.client.KvClientAdapter;
import io.ringkv.jepsen.harness.client.Outcome;
import io.ringkv.jepsen.history.Edn;
import io.ringkv.jepsen.history.Keyword;
import io.ringkv.jepsen.history.Op;
import io.ringkv.jepsen.history.OpType;
import io.ringkv.jepsen.model.ModelKind;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Independent compare-and-set registers: reads, writes and cas on {@code keyCount} keys, values
 * {@code 0..4}, every value a Jepsen {@code [key value]} tuple (cas: {@code [key [old new]]}).
 * Checked per key against a cas-register whose initial state is absent: a read of nil is a real
 * read of the absent value (strict nil reads).
 */
final class RegisterWorkload implements Workload {
  static final Keyword READ = Keyword.of("read");
  static final Keyword WRITE = Keyword.of("write");
  static final Keyword CAS = Keyword.of("cas");

  /** Values are drawn from {@code 0..VALUE_COUNT-1}, few enough that cas often succeeds. */
  private static final int VALUE_COUNT = 5;

  private static final int COUNTER_EXAMPLE_PREFIX_TAIL = 10;
  private static final int KEYS_DESCRIBED_MAX = 3;

  private final int keyCount;

  RegisterWorkload(int keyCount) {
    if (keyCount < 1) {
      throw new IllegalArgumentException("--keys must be positive, not " + keyCount);
    }
    this.keyCount = keyCount;
  }

  @Override
  public String name() {
    return "register";
  }

  static String storeKey(long key) {
    return "jepsen/register/" + key;
  }

  @Override
  public Invocation next(Random random) {
    long key = random.nextInt(keyCount);
    return switch (random.nextInt(3)) {
      case 0 -> new Invocation(READ, tuple(key, null));
      case 1 -> new Invocation(WRITE, tuple(key, (long) random.nextInt(VALUE_COUNT)));
      default ->
          new Invocation(
              CAS,
              tuple(
                  key,
                  List.of((long) random.nextInt(VALUE_COUNT), (long) random.nextInt(VALUE_COUNT))));
    };
  }

  @Override
  public Outcome apply(KvClientAdapter client, Invocation invocation) {
    List<?> tuple = (List<?>) invocation.value();
    long key = (Long) tuple.get(0);
    String storeKey = storeKey(key);
    if (invocation.f().equals(READ)) {
      Outcome outcome = client.read(storeKey);
      if (outcome.type() != OpType.OK) {
        return outcome;
      }
      Object value = parse((String) outcome.value());
      return Outcome.ok(tuple(key, value));
    }
    if (invocation.f().equals(WRITE)) {
      Outcome outcome = client.write(storeKey, tuple.get(1).toString());
      return outcome.type() == OpType.OK ? Outcome.ok(invocation.value()) : outcome;
    }
    List<?> oldNew = (List<?>) tuple.get(1);
    Outcome outcome =
        client.compareAndSet(storeKey, oldNew.get(0).toString(), oldNew.get(1).toString());
    return outcome.type() == OpType.OK ? Outcome.ok(invocation.value()) : outcome;
  }

  /** A stored value as the history shows it: a long when it is one, else the raw string. */
  private static Object parse(String stored) {
    if (stored == null) {
      return null;
    }
    try {
      return Long.parseLong(stored);
    } catch (NumberFormatException e) {
      return stored; // the checker then finds a value no write produced
    }
  }

  @Override
  public List<FinalRead> finalReads(int nodeCount) {
    List<FinalRead> reads = new ArrayList<>();
    for (long key = 0; key < keyCount; key++) {
      reads.add(new FinalRead((int) (key % nodeCount) + 1, new Invocation(READ, tuple(key, null))));
    }
    return reads;
  }

  @Override
  public List<CheckOutcome> check(List<Op> history, CheckLimits limits) {
    PerKeyResult result =
        LinearizabilityChecker.checkPerKey(
            history, ModelKind.CAS_REGISTER.initial(null, true), limits);
    Map<Object, Object> edn = new LinkedHashMap<>();
    edn.put(Keyword.of("valid?"), validEdn(result.verdict()));
    edn.put(Keyword.of("model"), Keyword.of("cas-register"));
    edn.put(Keyword.of("keys"), (long) result.byKey().size());
    StringBuilder text = new StringBuilder();
    Map<Object, Object> bad = new LinkedHashMap<>();
    int described = 0;
    for (Map.Entry<Object, LinearizabilityResult> key : result.byKey().entrySet()) {
      LinearizabilityResult keyResult = key.getValue();
      if (keyResult.verdict() == Verdict.VALID) {
        continue;
      }
      Map<Object, Object> keyEdn = new LinkedHashMap<>();
      keyEdn.put(Keyword.of("valid?"), validEdn(keyResult.verdict()));
      keyResult.unknownReason().ifPresent(reason -> keyEdn.put(Keyword.of("reason"), reason));
      keyResult
          .counterExample()
          .ifPresent(example -> keyEdn.put(Keyword.of("blocked-op"), example.blocked().toString()));
      bad.put(key.getKey(), keyEdn);
      if (described < KEYS_DESCRIBED_MAX) {
        described++;
        text.append("key ")
            .append(Edn.write(key.getKey()))
            .append(": ")
            .append(keyResult.verdict().label())
            .append('\n');
        keyResult.unknownReason().ifPresent(reason -> text.append(reason).append('\n'));
        keyResult
            .counterExample()
            .ifPresent(example -> text.append(example.describe(COUNTER_EXAMPLE_PREFIX_TAIL)));
      }
    }
    edn.put(Keyword.of("failures"), bad);
    if (text.isEmpty()) {
      text.append("every key is linearizable (").append(result.byKey().size()).append(" keys)\n");
    }
    return List.of(new CheckOutcome("linearizable", result.verdict(), edn, text.toString()));
  }

  static Object validEdn(Verdict verdict) {
    return switch (verdict) {
      case VALID -> Boolean.TRUE;
      case INVALID -> Boolean.FALSE;
      case UNKNOWN -> Keyword.of("unknown");
    };
  }

  private static List<Object> tuple(long key, Object value) {
    return Arrays.asList(key, value);
  }
}
