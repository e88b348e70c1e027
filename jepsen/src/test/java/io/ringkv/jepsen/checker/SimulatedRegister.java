package io.ringkv.jepsen.checker;

import io.ringkv.jepsen.history.Keyword;
import io.ringkv.jepsen.history.Op;
import io.ringkv.jepsen.history.OpType;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Generates histories of a register that is linearizable by construction: concurrent client slots
 * each run one operation at a time with a random duration, and every operation that takes effect
 * does so at a random instant strictly inside its interval, applied to one true register in that
 * order. Some operations crash ({@code :info}, or no completion at all) and then took effect or not
 * at random, and the slot continues under a new process id; some writes fail ({@code :fail}) and
 * did not take effect; CAS operations whose compare fails are {@code :fail}. Every written value is
 * unique, so a read of an overwritten value can never be explained by a later write.
 */
final class SimulatedRegister {
  static final Keyword READ = Keyword.of("read");
  static final Keyword WRITE = Keyword.of("write");
  static final Keyword CAS = Keyword.of("cas");

  /** One simulated operation, before it becomes history entries. */
  static final class SimOp {
    long process;
    Keyword f;
    Object invokeValue;
    Object completeValue;
    OpType outcome; // OK, FAIL, INFO, or INVOKE for "never completed"
    boolean takesEffect;
    long invokeNanos;
    long completeNanos;
    double effectNanos;
  }

  private final SplittableRandom random;
  private final int slotCount;
  private final int opCount;
  private final double crashProbability;
  private final double failProbability;
  private final long processBase;

  SimulatedRegister(
      SplittableRandom random,
      int slotCount,
      int opCount,
      double crashProbability,
      double failProbability,
      long processBase) {
    this.random = random;
    this.slotCount = slotCount;
    this.opCount = opCount;
    this.crashProbability = crashProbability;
    this.failProbability = failProbability;
    this.processBase = processBase;
  }

  /** The simulated operations, their outcomes decided by the true register. */
  List<SimOp> run() {
    long[] freeAtNanos = new long[slotCount];
    long[] process = new long[slotCount];
    for (int s = 0; s < slotCount; s++) {
      process[s] = processBase + s;
    }
    List<SimOp> ops = new ArrayList<>();
    long nextValue = 1;
    for (int i = 0; i < opCount; i++) {
      int slot = random.nextInt(slotCount);
      SimOp op = new SimOp();
      op.process = process[slot];
      op.invokeNanos = freeAtNanos[slot] + random.nextLong(1, 5_000);
      op.completeNanos = op.invokeNanos + random.nextLong(1, 20_000);
      op.effectNanos = op.invokeNanos + random.nextDouble() * (op.completeNanos - op.invokeNanos);
      freeAtNanos[slot] = op.completeNanos;
      int kind = random.nextInt(10);
      if (kind < 4) {
        op.f = READ;
      } else if (kind < 7) {
        op.f = WRITE;
        op.invokeValue = nextValue++;
      } else {
        op.f = CAS;
        long expected = nextValue == 1 ? 0 : random.nextLong(Math.max(1, nextValue - 3), nextValue);
        op.invokeValue = List.of(expected, nextValue++);
      }
      double roll = random.nextDouble();
      if (roll < crashProbability) {
        op.outcome = random.nextBoolean() ? OpType.INFO : OpType.INVOKE;
        op.takesEffect = random.nextBoolean();
        process[slot] += 1_000; // a crashed process never invokes again
      } else if (op.f == WRITE && roll < crashProbability + failProbability) {
        op.outcome = OpType.FAIL;
      } else {
        op.outcome = OpType.OK;
        op.takesEffect = true;
      }
      ops.add(op);
    }
    applyInEffectOrder(ops);
    return ops;
  }

  /** Runs the true register over the operations that take effect, at their effect instants. */
  private static void applyInEffectOrder(List<SimOp> ops) {
    List<SimOp> byEffect = new ArrayList<>(ops);
    byEffect.sort(Comparator.comparingDouble(op -> op.effectNanos));
    Object register = null;
    for (SimOp op : byEffect) {
      op.completeValue = op.invokeValue;
      if (!op.takesEffect) {
        continue;
      }
      if (op.f == READ) {
        op.completeValue = register;
      } else if (op.f == WRITE) {
        register = op.invokeValue;
      } else {
        List<?> pair = (List<?>) op.invokeValue;
        if (pair.get(0).equals(register)) {
          register = pair.get(1);
        } else if (op.outcome == OpType.OK) {
          op.outcome = OpType.FAIL; // the compare failed: the CAS did not happen
        }
      }
    }
  }

  /** The history of {@code ops}: entries ordered by time, indexed by position. */
  static List<Op> history(List<SimOp> ops, Keyword key) {
    record Event(long nanos, long sequence, Op op) {}
    List<Event> events = new ArrayList<>();
    long sequence = 0;
    for (SimOp op : ops) {
      Object invokeValue = op.f == READ ? null : op.invokeValue;
      events.add(
          new Event(
              op.invokeNanos,
              sequence++,
              Op.of(0, op.process, OpType.INVOKE, op.f, keyed(key, invokeValue), op.invokeNanos)));
      if (op.outcome != OpType.INVOKE) {
        Object value = op.outcome == OpType.OK ? op.completeValue : invokeValue;
        events.add(
            new Event(
                op.completeNanos,
                sequence++,
                Op.of(0, op.process, op.outcome, op.f, keyed(key, value), op.completeNanos)));
      }
    }
    events.sort(Comparator.comparingLong(Event::nanos).thenComparingLong(Event::sequence));
    List<Op> history = new ArrayList<>();
    for (Event event : events) {
      history.add(event.op().withIndex(history.size()));
    }
    return history;
  }

  private static Object keyed(Keyword key, Object value) {
    return key == null ? value : java.util.Arrays.asList(key, value);
  }
}
