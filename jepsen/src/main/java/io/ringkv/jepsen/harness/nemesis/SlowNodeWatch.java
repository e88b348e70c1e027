package io.ringkv.jepsen.harness.nemesis;

import io.ringkv.jepsen.history.Keyword;
import java.util.Map;

/**
 * What the slow nemesis reads from the cluster, and where it notes what it saw, so the history
 * shows leaderships moving off a slowed node and back.
 */
public interface SlowNodeWatch {
  /** Partitions {@code node} leads, by its own count; -1 when it does not answer. */
  int leadsOf(int node);

  /** {@code node}'s own word on whether it counts itself slow; null when it does not answer. */
  Boolean slowOf(int node);

  /** Records an extra {@code :info} event of the nemesis; callable from any thread. */
  void note(Keyword f, Map<Object, Object> value);

  /** Knows nothing and notes nothing (tests of the fault alone). */
  SlowNodeWatch NONE =
      new SlowNodeWatch() {
        @Override
        public int leadsOf(int node) {
          return -1;
        }

        @Override
        public Boolean slowOf(int node) {
          return null;
        }

        @Override
        public void note(Keyword f, Map<Object, Object> value) {}
      };
}
