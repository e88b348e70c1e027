package io.ringkv.jepsen.harness.nemesis;

import io.ringkv.jepsen.history.Keyword;
import java.util.Random;

/**
 * One kind of fault. {@link #start} injects a fault chosen with {@code random}; {@link #stop} heals
 * whatever this nemesis did and is safe to call when nothing is active. Calls come from one thread.
 */
public interface Nemesis {
  /** The {@code :f} of the start event, e.g. {@code :start-partition}. */
  Keyword startF();

  /** The {@code :f} of the stop event, e.g. {@code :stop-partition}. */
  Keyword stopF();

  /**
   * Chooses the next fault and returns its start {@code :f}, so the invocation can be recorded
   * before the fault begins; {@link #start} then injects that fault.
   */
  default Keyword prepare(Random random) {
    return startF();
  }

  NemesisEvent start(Random random) throws Exception;

  NemesisEvent stop() throws Exception;
}
