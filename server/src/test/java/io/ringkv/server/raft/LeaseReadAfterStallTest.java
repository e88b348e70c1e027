package io.ringkv.server.raft;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.ringkv.proto.internal.Command;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.raft.Config;
import io.ringkv.raft.Role;
import io.ringkv.storage.StorageEngine;
import io.ringkv.storage.StorageOptions;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves a lease leader whose driver stalled does not answer a read from a lease that ran out
 * during the stall. Three in-process drivers (frames handed over in memory, no sockets) run group 0
 * with lease reads; the leader's clock stands still and its links are cut (a stall, as a long GC
 * pause is, while the others elect a new leader and commit); then its clock jumps to real time. The
 * driver must run the ticks it missed before issuing the read, so the core finds no current lease
 * (and, by CheckQuorum, steps down): the read is not confirmed by the lease. Before the fix the
 * driver ran one tick after any stall, and the read was confirmed by the stale lease.
 */
class LeaseReadAfterStallTest {
  private static final int GROUP = 0;
  private static final int NODES = 3;
  private static final int TICK_MILLIS = 20;
  private static final long WAIT_SECONDS = 30;

  @TempDir Path directory;
  private final StorageEngine[] engines = new StorageEngine[NODES + 1];
  private final MultiRaftDriver[] drivers = new MultiRaftDriver[NODES + 1];
  private final MeterRegistry[] registries = new MeterRegistry[NODES + 1];
  private volatile int isolatedNode;
  private volatile long frozenNanos = -1;

  @AfterEach
  void close() {
    for (int node = 1; node <= NODES; node++) {
      if (drivers[node] != null) {
        drivers[node].close();
      }
      if (engines[node] != null) {
        engines[node].close();
      }
    }
  }

  @Test
  void aStalledLeaderDoesNotServeAReadFromALeaseThatRanOut() throws Exception {
    for (int node = 1; node <= NODES; node++) {
      start(node);
    }
    int leader = put(0, "v1");
    // A read confirmed by the lease shows the lease works before the stall.
    await(
        "a read served from the lease",
        () -> {
          try {
            drivers[leader].readIndex(GROUP).get(WAIT_SECONDS, TimeUnit.SECONDS);
          } catch (Exception e) {
            return false;
          }
          return reads(leader, "lease") > 0;
        });

    frozenNanos = System.nanoTime();
    isolatedNode = leader;
    put(leader, "v2"); // on the leader the others elect
    double leaseBefore = reads(leader, "lease");
    double othersBefore = reads(leader, "read_index") + reads(leader, "forwarded");
    frozenNanos = -1; // the stall ends: the old leader's clock jumps to real time
    drivers[leader].readIndex(GROUP);
    await(
        "the read issued on the old leader",
        () ->
            reads(leader, "lease") + reads(leader, "read_index") + reads(leader, "forwarded")
                > leaseBefore + othersBefore);
    assertThat(reads(leader, "lease"))
        .as("reads confirmed by a lease that ran out during the stall")
        .isEqualTo(leaseBefore);
  }

  private void start(int node) {
    engines[node] =
        StorageEngine.open(
            StorageOptions.builder(directory.resolve("n" + node), "lease", node).build());
    DriverSettings settings =
        new DriverSettings(
            node,
            TICK_MILLIS,
            DriverSettings.ELECTION_TIMEOUT_TICKS_DEFAULT,
            1,
            DriverSettings.LOG_COMPACTION_ENTRIES_DEFAULT,
            1024,
            1L << 30,
            1L << 20,
            DriverSettings.SESSION_TTL_MILLIS_DEFAULT,
            DriverSettings.INBOX_TASKS_MAX_DEFAULT,
            directory.resolve("n" + node).resolve("snapshots"),
            DriverSettings.APPLY_QUEUE_BYTES_MAX_DEFAULT,
            DriverSettings.RAFT_INFLIGHT_BYTES_MAX_DEFAULT,
            Config.ReadOnlyMode.LEASE_BASED);
    registries[node] = new SimpleMeterRegistry();
    LongSupplier nanoTime =
        () -> frozenNanos >= 0 && isolatedNode == node ? frozenNanos : System.nanoTime();
    drivers[node] =
        new MultiRaftDriver(
            settings,
            engines[node],
            Map.of(GROUP, List.of(1L, 2L, 3L)),
            1,
            Clock.systemUTC(),
            nanoTime,
            new SplittableRandom(node),
            registries[node]);
    long from = node;
    drivers[node].start(
        (to, batch) -> {
          if (from == isolatedNode || to == isolatedNode) {
            return true; // cut: lost on the way
          }
          MultiRaftDriver target = drivers[(int) to];
          if (target != null) {
            target.onRaftBatch(from, batch);
          }
          return true;
        },
        (partition, message, store) -> {
          throw new AssertionError("no snapshot is expected in this test");
        });
  }

  private double reads(int node, String confirmedBy) {
    return registries[node].counter("ringkv.raft.reads", "confirmed_by", confirmedBy).count();
  }

  /** Waits for a leader other than {@code excluded} and returns it. */
  private int leader(int excluded) throws Exception {
    int[] found = {0};
    await(
        "a leader of group 0 other than node " + excluded,
        () -> {
          for (int node = 1; node <= NODES; node++) {
            GroupStatus status = drivers[node].status(GROUP);
            if (node != excluded && status != null && status.role() == Role.LEADER) {
              found[0] = node;
              return true;
            }
          }
          return false;
        });
    return found[0];
  }

  /**
   * Writes the register through a leader other than {@code excluded}, again on whichever node leads
   * next if leadership moves meanwhile (a loaded machine can delay ticks); returns the node.
   */
  private int put(int excluded, String value) throws Exception {
    Command put =
        Command.newBuilder()
            .setPut(
                PutRequest.newBuilder()
                    .setKey(ByteString.copyFromUtf8("register"))
                    .setValue(ByteString.copyFromUtf8(value)))
            .build();
    int[] writtenOn = {0};
    await(
        "register = " + value + " written through a leader",
        () -> {
          try {
            int leader = leader(excluded);
            drivers[leader].propose(GROUP, put).get(WAIT_SECONDS, TimeUnit.SECONDS);
            writtenOn[0] = leader;
            return true;
          } catch (Exception e) {
            return false; // leadership moved: find the leader again
          }
        });
    return writtenOn[0];
  }

  private static void await(String what, BooleanSupplier condition) throws Exception {
    BoundedWait.await(what, WAIT_SECONDS, condition);
  }
}
