package io.ringkv.jepsen.harness;

import io.ringkv.jepsen.checker.CheckLimits;
import io.ringkv.jepsen.checker.SetCheckResult;
import io.ringkv.jepsen.checker.SetChecker;
import io.ringkv.jepsen.harness.client.KvClientAdapter;
import io.ringkv.jepsen.harness.client.Outcome;
import io.ringkv.jepsen.history.Edn;
import io.ringkv.jepsen.history.Keyword;
import io.ringkv.jepsen.history.Op;
import io.ringkv.jepsen.history.OpType;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A grow-only set: clients add unique integers, each as its own key {@code jepsen/set/0/<n>}; once
 * everything is healed every node reads the set back with a Scan of the prefix. Checked by {@link
 * SetChecker}: no acknowledged add may be missing from the final read, and nothing may appear that
 * no add could have written.
 */
final class SetWorkload implements Workload {
  static final Keyword ADD = Keyword.of("add");
  static final Keyword READ = Keyword.of("read");
  static final String PREFIX = "jepsen/set/0/";

  private final AtomicLong nextElement = new AtomicLong();

  @Override
  public String name() {
    return "set";
  }

  @Override
  public Invocation next(Random random) {
    return new Invocation(ADD, nextElement.getAndIncrement());
  }

  @Override
  public Outcome apply(KvClientAdapter client, Invocation invocation) {
    if (invocation.f().equals(ADD)) {
      Outcome outcome = client.write(PREFIX + invocation.value(), "1");
      return outcome.type() == OpType.OK ? Outcome.ok(invocation.value()) : outcome;
    }
    Outcome outcome = client.scanKeys(PREFIX);
    if (outcome.type() != OpType.OK) {
      return outcome;
    }
    TreeSet<Object> elements = new TreeSet<>(SetWorkload::compareElements);
    for (Object key : (List<?>) outcome.value()) {
      String suffix = ((String) key).substring(PREFIX.length());
      try {
        elements.add(Long.parseLong(suffix));
      } catch (NumberFormatException e) {
        elements.add(suffix); // no add wrote it: the checker reports it as unexpected
      }
    }
    return Outcome.ok(new ArrayList<>(elements));
  }

  private static int compareElements(Object a, Object b) {
    if (a instanceof Long x && b instanceof Long y) {
      return Long.compare(x, y);
    }
    return a.toString().compareTo(b.toString());
  }

  @Override
  public List<FinalRead> finalReads(int nodeCount) {
    List<FinalRead> reads = new ArrayList<>();
    for (int node = 1; node <= nodeCount; node++) {
      reads.add(new FinalRead(node, new Invocation(READ, null)));
    }
    return reads;
  }

  @Override
  public List<CheckOutcome> check(List<Op> history, CheckLimits limits) {
    SetCheckResult result = SetChecker.check(history);
    Map<Object, Object> edn = new LinkedHashMap<>();
    edn.put(Keyword.of("valid?"), RegisterWorkload.validEdn(result.verdict()));
    edn.put(Keyword.of("acknowledged-count"), (long) result.acknowledgedCount());
    edn.put(Keyword.of("lost"), List.copyOf(result.lost()));
    edn.put(Keyword.of("unexpected"), List.copyOf(result.unexpected()));
    edn.put(Keyword.of("recovered-count"), (long) result.recovered().size());
    result.unknownReason().ifPresent(reason -> edn.put(Keyword.of("reason"), reason));
    String text =
        String.format(
            "set: %s; %d acknowledged adds; lost %s; unexpected %s; %d crashed adds recovered%n",
            result.unknownReason().map(r -> "unknown: " + r).orElse(result.verdict().label()),
            result.acknowledgedCount(),
            Edn.write(List.copyOf(result.lost())),
            Edn.write(List.copyOf(result.unexpected())),
            result.recovered().size());
    return List.of(new CheckOutcome("set", result.verdict(), edn, text));
  }
}
