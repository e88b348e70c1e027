package io.ringkv.server.gossip;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.ringkv.gossip.GossipSettings;
import io.ringkv.gossip.MemberState;
import io.ringkv.gossip.Message;
import io.ringkv.gossip.Packet;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Proves the gossip transport on real sockets (loopback 127.0.0.220-226, this test's own range):
 * four nodes join through one seed by TCP push-pull and see each other alive over UDP; a node that
 * stops is declared dead by the others within the {@code local} preset's bound (and the metrics
 * show it); and a datagram of another cluster is dropped and counted. It waits on conditions with
 * deadlines, never on sleeps.
 */
class GossipTransportTest {
  private static final int PORT = 7380;
  private static final String CLUSTER = "gossip-test";
  private static final long JOIN_DEADLINE_MILLIS = 15_000;
  private static final int HOST_FIRST = 220;

  /** The second test uses its own addresses, so no socket of the first can be in its way. */
  private static final int FOREIGN_TEST_INDEX = 5;

  private final List<GossipTransport> transports = new ArrayList<>();

  @AfterEach
  void closeAll() {
    transports.forEach(GossipTransport::close);
  }

  private GossipTransport start(int index, GossipSettings settings, long seed) throws Exception {
    String host = "127.0.0." + (HOST_FIRST + index);
    List<String> seeds =
        index == 0 || index == FOREIGN_TEST_INDEX ? List.of() : List.of("127.0.0.220:" + PORT);
    GossipTransport transport =
        new GossipTransport(
            new GossipTransportSettings(CLUSTER, "n" + index, host, PORT, seeds, settings),
            new SplittableRandom(seed + index),
            event -> {});
    transports.add(transport.start());
    return transport;
  }

  @Test
  void nodesJoinThenAStoppedNodeIsDeclaredDeadByAllOthers() throws Exception {
    long seed = 20261206L;
    System.out.println("seed " + seed);
    GossipSettings settings = GossipSettings.local();
    for (int index = 0; index < 4; index++) {
      start(index, settings, seed);
    }
    waitFor(
        "all four alive everywhere",
        JOIN_DEADLINE_MILLIS,
        () -> allSee(4, MemberState.ALIVE, null));
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    GossipMetrics.register(registry, transports.getFirst());
    waitFor(
        "metrics show four alive members and probes",
        JOIN_DEADLINE_MILLIS,
        () ->
            registry.get("ringkv.gossip.members").tag("state", "alive").gauge().value() == 4
                && registry.get("ringkv.gossip.probes").functionCounter().count() > 0);
    GossipTransport stopped = transports.remove(3);
    stopped.close();
    long started = System.nanoTime();
    // The bound the simulation asserts: 2 x 1.58 probe periods, the longest suspicion, 4 periods.
    long boundMillis =
        ((long) Math.ceil(2 * 1.58 * settings.probeIntervalTicks())
                + settings.suspicionMaxTicks(4)
                + 4L * settings.probeIntervalTicks())
            * settings.tickMillis();
    waitFor("n3 dead at every other node", boundMillis, () -> allSee(3, MemberState.DEAD, "n3"));
    System.out.println(
        "n3 declared dead everywhere after "
            + (System.nanoTime() - started) / 1_000_000
            + " ms (bound "
            + boundMillis
            + " ms)");
    // Meters read the status published at the last tick, so they may trail by one tick.
    waitFor(
        "metrics show the dead member",
        JOIN_DEADLINE_MILLIS,
        () -> registry.get("ringkv.gossip.members").tag("state", "dead").gauge().value() == 1);
    GossipStatus status = transports.getFirst().status().get();
    assertThat(status.transport().pushPullsCompleted()).isPositive();
    assertThat(status.transport().oversizeDropped()).isZero();
  }

  @Test
  void aDatagramOfAnotherClusterIsDroppedAndCounted() throws Exception {
    GossipTransport node = start(FOREIGN_TEST_INDEX, GossipSettings.local(), 1);
    byte[] foreign =
        new GossipWireCodec("another-cluster")
            .encode(
                new Packet(
                    "x",
                    "127.0.0.226:" + PORT,
                    "127.0.0.225:" + PORT,
                    new Message.Ping(1, "n0", List.of())));
    try (DatagramSocket socket = new DatagramSocket(new InetSocketAddress("127.0.0.226", 0))) {
      socket.send(
          new DatagramPacket(foreign, foreign.length, InetAddress.getByName("127.0.0.225"), PORT));
    }
    waitFor(
        "foreign datagram counted",
        5_000,
        () -> node.transportCounters().foreignClusterDropped() == 1);
    assertThat(node.status().get().members()).hasSize(1);
  }

  private boolean allSee(int memberCount, MemberState state, String memberId) {
    for (GossipTransport transport : transports) {
      GossipStatus status = transport.status().join();
      long matching =
          status.members().stream()
              .filter(m -> memberId == null || m.view().memberId().equals(memberId))
              .filter(m -> m.view().state() == state)
              .count();
      if (memberId == null ? matching != memberCount : matching != 1) {
        return false;
      }
    }
    return true;
  }

  private static void waitFor(String what, long deadlineMillis, BooleanSupplier condition)
      throws InterruptedException {
    long deadline = System.nanoTime() + deadlineMillis * 1_000_000;
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError(what + " not reached within " + deadlineMillis + " ms");
      }
      Thread.onSpinWait();
      Thread.sleep(20); // polling interval of a condition with a deadline, not a guessed wait
    }
  }
}
