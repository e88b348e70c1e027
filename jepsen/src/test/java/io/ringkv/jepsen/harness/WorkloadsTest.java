package io.ringkv.jepsen.harness;

import static org.assertj.core.api.Assertions.assertThat;

import io.ringkv.jepsen.checker.CheckLimits;
import io.ringkv.jepsen.checker.Verdict;
import io.ringkv.jepsen.harness.client.KvClientAdapter;
import io.ringkv.jepsen.harness.client.Outcome;
import io.ringkv.jepsen.history.HistoryReader;
import io.ringkv.jepsen.history.Op;
import io.ringkv.jepsen.history.OpType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves the workloads, the recorder and the checkers fit together, on an in-memory store standing
 * in for the KV service (which does not exist yet): concurrent register and set runs against an
 * atomic map are valid; a store that acknowledges writes it then forgets is caught (register:
 * invalid; set: the lost elements are named); the recorded history.edn reads back to the same ops.
 * Seeds are printed by the assertion descriptions.
 */
class WorkloadsTest {
  private static final int THREADS = 4;
  private static final int OPS_PER_THREAD = 200;

  @TempDir Path dir;

  @Test
  void registerOnAnAtomicStoreIsValidAndOnAForgetfulOneInvalid() throws Exception {
    long seed = 11;
    assertThat(run(new RegisterWorkload(3), new MemoryStore(false), seed).verdict())
        .as("seed %d", seed)
        .isEqualTo(Verdict.VALID);
    assertThat(run(new RegisterWorkload(3), new MemoryStore(true), seed).verdict())
        .as("seed %d", seed)
        .isEqualTo(Verdict.INVALID);
  }

  @Test
  void setOnAForgetfulStoreNamesTheLostElements() throws Exception {
    long seed = 12;
    assertThat(run(new SetWorkload(), new MemoryStore(false), seed).verdict())
        .as("seed %d", seed)
        .isEqualTo(Verdict.VALID);
    CheckOutcome lossy = run(new SetWorkload(), new MemoryStore(true), seed);
    assertThat(lossy.verdict()).as("seed %d", seed).isEqualTo(Verdict.INVALID);
    assertThat((List<?>) lossy.edn().get(io.ringkv.jepsen.history.Keyword.of("lost"))).isNotEmpty();
  }

  private CheckOutcome run(Workload workload, MemoryStore store, long seed) throws Exception {
    Path file = dir.resolve(workload.name() + "-" + store.forgetful + ".edn");
    List<Op> history;
    try (HistoryRecorder recorder = new HistoryRecorder(file, System::nanoTime)) {
      List<Thread> threads = new ArrayList<>();
      for (int t = 0; t < THREADS; t++) {
        long process = t;
        Random random = new Random(seed * 31 + t);
        threads.add(
            Thread.ofPlatform()
                .start(() -> {
                  for (int i = 0; i < OPS_PER_THREAD; i++) {
                    apply(recorder, workload, store, process, workload.next(random));
                  }
                }));
      }
      for (Thread thread : threads) {
        thread.join();
      }
      long process = 1000;
      for (Workload.FinalRead read : workload.finalReads(3)) {
        apply(recorder, workload, store, process++, read.invocation());
      }
      history = recorder.ops();
    }
    assertThat(HistoryReader.read(file)).isEqualTo(history);
    List<CheckOutcome> checks = workload.check(history, CheckLimits.defaults());
    assertThat(checks).hasSize(1);
    return checks.getFirst();
  }

  private static void apply(
      HistoryRecorder recorder,
      Workload workload,
      KvClientAdapter store,
      long process,
      Invocation op) {
    recorder.invoke(process, op.f(), op.value());
    Outcome outcome = workload.apply(store, op);
    recorder.complete(
        process,
        outcome.type(),
        op.f(),
        outcome.type() == OpType.OK ? outcome.value() : op.value(),
        outcome.error());
  }

  /** A linearizable map; when forgetful, every fifth write is acknowledged and dropped. */
  private static final class MemoryStore implements KvClientAdapter {
    private final boolean forgetful;
    private final ConcurrentHashMap<String, String> map = new ConcurrentHashMap<>();
    private int writes;

    MemoryStore(boolean forgetful) {
      this.forgetful = forgetful;
    }

    @Override
    public synchronized Outcome read(String key) {
      return Outcome.ok(map.get(key));
    }

    @Override
    public synchronized Outcome write(String key, String value) {
      if (!(forgetful && ++writes % 5 == 0)) {
        map.put(key, value);
      }
      return Outcome.ok(null);
    }

    @Override
    public synchronized Outcome compareAndSet(String key, String expected, String newValue) {
      if (!Objects.equals(map.get(key), expected)) {
        return Outcome.fail("compare failed");
      }
      map.put(key, newValue);
      return Outcome.ok(null);
    }

    @Override
    public synchronized Outcome scanKeys(String prefix) {
      List<String> keys = new ArrayList<>();
      for (String key : new TreeMap<>(map).keySet()) {
        if (key.startsWith(prefix)) {
          keys.add(key);
        }
      }
      return Outcome.ok(keys);
    }

    @Override
    public void close() {}
  }
}
