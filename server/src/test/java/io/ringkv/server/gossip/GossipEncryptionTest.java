package io.ringkv.server.gossip;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.ringkv.gossip.GossipSettings;
import io.ringkv.gossip.MemberState;
import io.ringkv.gossip.Message;
import io.ringkv.gossip.Packet;
import io.ringkv.gossip.Update;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Proves encrypted gossip on real sockets (loopback 127.0.16.1-19, this test's own range): three
 * transports sharing a key join and see each other alive; a fourth with another key, seeded with
 * one of them, is never taken in as a member, and its packets are counted as unauthenticated; a
 * forged "n2 is dead" datagram, in plaintext or sealed with a wrong key, leaves the receiver's view
 * of n2 alive and is counted; and a key rotation done node by node in the documented order never
 * drops a packet between the members. It waits on conditions with deadlines, never on sleeps.
 */
@org.junit.jupiter.api.Timeout(value = 300, unit = java.util.concurrent.TimeUnit.SECONDS)
class GossipEncryptionTest {
  private static final int PORT = 7380;
  private static final String CLUSTER = "gossip-key-test";
  private static final long DEADLINE_MILLIS = 15_000;
  private static final long SEED = 20261207L;

  /** Datagrams every member must receive after a key change before the next one. */
  private static final int DATAGRAMS_PER_ROTATION_STEP = 4;

  private final List<GossipTransport> transports = new ArrayList<>();
  private final List<AtomicReference<GossipKeyring>> keyrings = new ArrayList<>();
  private final SplittableRandom random = new SplittableRandom(SEED);

  {
    System.out.println("seed " + SEED);
  }

  @AfterEach
  void closeAll() {
    transports.forEach(GossipTransport::close);
  }

  private String key() {
    byte[] key = new byte[GossipKeyring.KEY_BYTES];
    random.nextBytes(key);
    return Base64.getEncoder().encodeToString(key);
  }

  private static String address(int host) {
    return "127.0.16." + host + ":" + PORT;
  }

  /**
   * Starts member "n{host}" on 127.0.16.{host}, seeded with {@code seedHost} unless it is itself.
   */
  private GossipTransport start(int host, int seedHost, String keys) throws Exception {
    AtomicReference<GossipKeyring> keyring = new AtomicReference<>(GossipKeyring.parse(keys));
    List<String> seeds = host == seedHost ? List.of() : List.of(address(seedHost));
    GossipTransport transport =
        new GossipTransport(
            new GossipTransportSettings(
                CLUSTER, "n" + host, "127.0.16." + host, PORT, seeds, GossipSettings.local()),
            random.split(),
            event -> {},
            new GossipCipher(CLUSTER, keyring::get, random.split()));
    transports.add(transport.start());
    keyrings.add(keyring);
    return transport;
  }

  @Test
  void onlyHoldersOfTheKeyBecomeMembers() throws Exception {
    String key = key();
    GossipTransport first = start(1, 1, key);
    start(2, 1, key);
    start(3, 1, key);
    waitFor("three alive everywhere", () -> allSeeAlive(transports, 3));
    GossipTransport intruder = start(4, 1, key());
    waitFor(
        "the intruder's join refused at its seed (or, were it let in, seen)",
        () ->
            first.transportCounters().unauthenticatedDropped() >= 1
                || first.status().join().members().size() > 3);
    for (GossipTransport member : transports.subList(0, 3)) {
      assertThat(member.status().get().members())
          .extracting(m -> m.view().memberId())
          .containsExactlyInAnyOrder("n1", "n2", "n3");
    }
    assertThat(intruder.status().get().members()).hasSize(1);
    assertThat(first.transportCounters().unauthenticatedDropped()).isPositive();
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    GossipMetrics.register(registry, first);
    waitFor(
        "the metric shows it",
        () ->
            registry
                    .get("ringkv.gossip.datagrams.dropped")
                    .tag("reason", "unauthenticated")
                    .functionCounter()
                    .count()
                >= 1);
  }

  @Test
  void aForgedDeathDoesNotChangeTheView() throws Exception {
    String key = key();
    GossipTransport first = start(11, 11, key);
    start(12, 11, key);
    waitFor("both alive at both", () -> allSeeAlive(transports, 2));
    Packet forged =
        new Packet(
            "n12",
            address(12),
            address(11),
            new Message.Gossip(
                List.of(
                    new Update("n12", address(12), MemberState.DEAD, Long.MAX_VALUE / 2, "n12"),
                    new Update("n19", address(19), MemberState.ALIVE, 1, "n19"))));
    byte[] plaintext = new GossipWireCodec(CLUSTER).encode(forged);
    GossipKeyring wrong = GossipKeyring.parse(key());
    byte[] sealedWrong = new GossipCipher(CLUSTER, () -> wrong, random.split()).seal(plaintext);
    long before = first.transportCounters().unauthenticatedDropped();
    try (DatagramSocket socket = new DatagramSocket(new InetSocketAddress("127.0.16.19", 0))) {
      for (byte[] bytes : List.of(plaintext, sealedWrong)) {
        socket.send(
            new DatagramPacket(bytes, bytes.length, InetAddress.getByName("127.0.16.11"), PORT));
      }
    }
    waitFor(
        "both forgeries counted (or, were they taken, the invented member seen)",
        () ->
            first.transportCounters().unauthenticatedDropped() == before + 2
                || first.status().join().members().size() > 2);
    GossipStatus status = first.status().get();
    assertThat(status.members())
        .extracting(m -> m.view().memberId() + "=" + m.view().state())
        .containsExactlyInAnyOrder("n11=" + MemberState.ALIVE, "n12=" + MemberState.ALIVE);
    assertThat(status.transport().unauthenticatedDropped()).isEqualTo(before + 2);
    assertThat(status.transport().malformedDropped()).isZero();
  }

  @Test
  void aRotationInTheDocumentedOrderNeverDropsAPacket() throws Exception {
    String oldKey = key();
    String newKey = key();
    for (int host = 21; host <= 23; host++) {
      start(host, 21, oldKey);
    }
    waitFor("three alive everywhere", () -> allSeeAlive(transports, 3));
    List<String> steps = List.of(oldKey + "\n" + newKey, newKey + "\n" + oldKey, newKey);
    for (String keys : steps) {
      for (int index = 0; index < transports.size(); index++) {
        keyrings.get(index).set(GossipKeyring.parse(keys));
        waitForTraffic();
      }
    }
    for (GossipTransport transport : transports) {
      assertThat(transport.transportCounters().unauthenticatedDropped()).isZero();
    }
    assertThat(allSeeAlive(transports, 3)).isTrue();
  }

  /** Waits until every member received some more datagrams, so each key change is exercised. */
  private void waitForTraffic() throws InterruptedException {
    long[] received = new long[transports.size()];
    for (int index = 0; index < received.length; index++) {
      received[index] = transports.get(index).transportCounters().datagramsReceived();
    }
    waitFor(
        "traffic after a key change",
        () -> {
          for (int index = 0; index < received.length; index++) {
            long now = transports.get(index).transportCounters().datagramsReceived();
            if (now < received[index] + DATAGRAMS_PER_ROTATION_STEP) {
              return false;
            }
          }
          return true;
        });
  }

  private static boolean allSeeAlive(List<GossipTransport> transports, int memberCount) {
    for (GossipTransport transport : transports) {
      long alive =
          transport.status().join().members().stream()
              .filter(m -> m.view().state() == MemberState.ALIVE)
              .count();
      if (alive != memberCount) {
        return false;
      }
    }
    return true;
  }

  private static void waitFor(String what, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + DEADLINE_MILLIS * 1_000_000;
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError(what + " not reached within " + DEADLINE_MILLIS + " ms");
      }
      Thread.sleep(20); // polling interval of a condition with a deadline, not a guessed wait
    }
  }
}
