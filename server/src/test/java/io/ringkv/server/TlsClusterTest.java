package io.ringkv.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.ringkv.gossip.MemberState;
import io.ringkv.proto.internal.GossipEnvelope;
import io.ringkv.proto.internal.GossipUpdate;
import io.ringkv.proto.internal.GossipUpdates;
import io.ringkv.proto.v1.GetRequest;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.server.config.ConfigLoader;
import io.ringkv.server.tls.NodeTls;
import io.ringkv.server.tls.TestCerts;
import io.ringkv.server.transport.PeerMessageHandler;
import io.ringkv.server.transport.PeerTransport;
import io.ringkv.server.transport.PeerTransportSettings;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A three-node cluster with TLS on (certificates from deploy/tls/make-certs.sh, client certificates
 * required) on 127.0.12.1-3. Proves: writes through every node (so Raft over the TLS peer transport
 * and forwarding over TLS gRPC channels) read back over mutual TLS; a plaintext client, a client
 * without a certificate and a client whose certificate another CA signed are refused, and the
 * foreign certificate is counted; a peer with a foreign-CA certificate, a peer presenting a user's
 * (non-node) certificate and a plaintext peer never get a connection, and are counted; and a node
 * whose certificate files are rewritten presents the new certificate to new connections without a
 * restart. Gossip runs sealed with the gossip.key make-certs.sh writes: the nodes see each other
 * alive through it, and a forged plaintext "node 2 is dead" datagram is dropped, counted and leaves
 * node 2 alive.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class TlsClusterTest {
  static final String[] HOSTS = {"127.0.12.1", "127.0.12.2", "127.0.12.3"};
  static final String ROGUE_HOST = "127.0.12.21";
  static final long WAIT_SECONDS = 60;

  @TempDir static Path dir;
  static Path certs;
  static Path foreign;
  static final RingkvNode[] nodes = new RingkvNode[HOSTS.length];
  static final List<AutoCloseable> toClose = new ArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    certs = TestCerts.make(dir.resolve("certs"), HOSTS);
    foreign = TestCerts.make(dir.resolve("foreign"), HOSTS);
    String[][] flags =
        LocalTestCluster.flags(
            dir.resolve("data"),
            HOSTS,
            "tls-test",
            "--partitions",
            "4",
            "--raft-tick-millis",
            "20",
            "--client-tls-client-auth",
            "require",
            "--tls-reload-interval-millis",
            "100");
    for (int i = 0; i < HOSTS.length; i++) {
      List<String> own = new ArrayList<>(List.of(flags[i]));
      own.addAll(TestCerts.flags(certs, "node-" + (i + 1)));
      own.addAll(List.of("--gossip-key-file", certs.resolve("gossip.key").toString()));
      nodes[i] = RingkvNode.start(ConfigLoader.load(own.toArray(new String[0])));
    }
  }

  @AfterAll
  static void stop() throws Exception {
    LocalTestCluster.closeAll(toClose, nodes);
  }

  static ManagedChannel channel(RingkvNode node, Path caFile, Path certDir, String name) {
    TlsChannelCredentials.Builder credentials = TlsChannelCredentials.newBuilder();
    try {
      credentials.trustManager(caFile.toFile());
      if (name != null) {
        credentials.keyManager(
            certDir.resolve(name + ".crt").toFile(), certDir.resolve(name + ".key").toFile());
      }
    } catch (java.io.IOException e) {
      throw new AssertionError(e);
    }
    ManagedChannel channel =
        NettyChannelBuilder.forAddress(node.clientAddress(), credentials.build()).build();
    toClose.add(() -> {
      channel.shutdownNow();
      channel.awaitTermination(5, TimeUnit.SECONDS);
    });
    return channel;
  }

  static KVGrpc.KVBlockingStub rootKv(RingkvNode node) {
    return KVGrpc.newBlockingStub(channel(node, certs.resolve("ca.crt"), certs, "client-root"));
  }

  static GetRequest get(String key) {
    return GetRequest.newBuilder().setKey(ByteString.copyFromUtf8(key)).build();
  }

  @Test
  void writesThroughEveryNodeAreReadBackOverMutualTls() throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
    for (int i = 0; i < nodes.length; i++) {
      KVGrpc.KVBlockingStub kv = rootKv(nodes[i]);
      for (int k = 0; k < 8; k++) { // eight keys spread over the four partitions' leaders
        String key = "tls-" + i + "-" + k;
        LocalTestCluster.putRetrying(
            kv,
            PutRequest.newBuilder()
                .setKey(ByteString.copyFromUtf8(key))
                .setValue(ByteString.copyFromUtf8("v" + k))
                .build(),
            10,
            deadline);
      }
    }
    for (int i = 0; i < nodes.length; i++) {
      KVGrpc.KVBlockingStub kv = rootKv(nodes[(i + 1) % nodes.length]);
      for (int k = 0; k < 8; k++) {
        assertThat(
                kv.withDeadlineAfter(10, TimeUnit.SECONDS)
                    .get(get("tls-" + i + "-" + k))
                    .getValue()
                    .toStringUtf8())
            .isEqualTo("v" + k);
      }
    }
  }

  @Test
  void plaintextClientsAreRefused() throws Exception {
    RingkvNode node = nodes[1];
    double plaintext = TestCerts.failures(node.registry(), "client", "plaintext");
    ManagedChannel plain =
        NettyChannelBuilder.forAddress(node.clientAddress()).usePlaintext().build();
    toClose.add(plain::shutdownNow);
    assertThatThrownBy(() ->
            KVGrpc.newBlockingStub(plain).withDeadlineAfter(5, TimeUnit.SECONDS).get(get("k")))
        .isInstanceOf(StatusRuntimeException.class)
        .satisfies(e ->
            assertThat(((StatusRuntimeException) e).getStatus().getCode())
                .isIn(Status.Code.UNAVAILABLE, Status.Code.DEADLINE_EXCEEDED));
    LocalTestCluster.awaitTrue(
        "the plaintext client is counted",
        WAIT_SECONDS,
        () -> TestCerts.failures(node.registry(), "client", "plaintext") > plaintext);
  }

  @Test
  void clientsWithoutACertificateOrWithAForeignOneAreRefusedAndCounted() throws Exception {
    RingkvNode node = nodes[2];
    double missing = TestCerts.failures(node.registry(), "client", "no_certificate");
    ManagedChannel noCertificate = channel(node, certs.resolve("ca.crt"), null, null);
    assertRefused(KVGrpc.newBlockingStub(noCertificate));
    LocalTestCluster.awaitTrue(
        "the client without a certificate is counted",
        WAIT_SECONDS,
        () -> TestCerts.failures(node.registry(), "client", "no_certificate") > missing);

    double untrusted = TestCerts.failures(node.registry(), "client", "untrusted_certificate");
    // Trusts the cluster's CA, but presents a certificate of another CA.
    ManagedChannel foreignCertificate =
        channel(node, certs.resolve("ca.crt"), foreign, "client-root");
    assertRefused(KVGrpc.newBlockingStub(foreignCertificate));
    LocalTestCluster.awaitTrue(
        "the foreign certificate is counted as untrusted",
        WAIT_SECONDS,
        () -> TestCerts.failures(node.registry(), "client", "untrusted_certificate") > untrusted);
  }

  private static void assertRefused(KVGrpc.KVBlockingStub kv) {
    assertThatThrownBy(() -> kv.withDeadlineAfter(5, TimeUnit.SECONDS).get(get("k")))
        .isInstanceOf(StatusRuntimeException.class)
        .satisfies(e ->
            assertThat(((StatusRuntimeException) e).getStatus().getCode())
                .isIn(Status.Code.UNAVAILABLE, Status.Code.DEADLINE_EXCEEDED));
  }

  @Test
  void peersWithoutANodeCertificateOfTheClusterNeverConnect() throws Exception {
    RingkvNode target = nodes[2]; // node 3: a dialer with the lower id 1 is expected to dial it
    String[] presented = {"foreign node", "user certificate"};
    Path[][] files = {
      {foreign.resolve("node-1.crt"), foreign.resolve("node-1.key")},
      {certs.resolve("client-root.crt"), certs.resolve("client-root.key")}
    };
    for (int i = 0; i < files.length; i++) {
      double before = TestCerts.failures(target.registry(), "peer", "untrusted_certificate");
      SimpleMeterRegistry registry = new SimpleMeterRegistry();
      io.ringkv.server.config.TlsSettings settings =
          new io.ringkv.server.config.TlsSettings(
              files[i][0],
              files[i][1],
              certs.resolve("ca.crt"), // it trusts the cluster, but is not one of its nodes
              io.ringkv.server.config.TlsSettings.ClientAuth.REQUIRE,
              io.ringkv.server.config.TlsSettings.RELOAD_INTERVAL_MILLIS_DEFAULT);
      try (NodeTls rogueTls = NodeTls.load(settings, registry);
          PeerTransport rogue =
              new PeerTransport(
                      PeerTransportSettings.defaults(
                          "tls-test", 1, new InetSocketAddress(ROGUE_HOST, 0)),
                      new PeerMessageHandler() {
                        @Override
                        public void onRaftBatch(
                            long fromNodeId, io.ringkv.proto.internal.RaftBatch batch) {}

                        @Override
                        public void onHeartbeats(
                            long fromNodeId, io.ringkv.proto.internal.Heartbeats heartbeats) {}
                      },
                      registry,
                      new SplittableRandom(7),
                      rogueTls.peerTls())
                  .start()) {
        rogue.setPeer(3, target.peerAddress());
        LocalTestCluster.awaitTrue(
            "node 3 refuses the " + presented[i] + " and counts it",
            WAIT_SECONDS,
            () -> TestCerts.failures(target.registry(), "peer", "untrusted_certificate") > before);
        assertThat(rogue.isConnected(3)).as(presented[i]).isFalse();
      }
    }
  }

  @Test
  void sealedGossipSeesEveryNodeAndAForgedDeathIsDroppedAndCounted() throws Exception {
    for (RingkvNode node : nodes) {
      LocalTestCluster.awaitTrue(
          "every node alive in sealed gossip",
          WAIT_SECONDS,
          () -> {
            for (int id = 1; id <= nodes.length; id++) {
              if (node.gossip().state(id) != MemberState.ALIVE) {
                return false;
              }
            }
            return true;
          });
    }
    RingkvNode target = nodes[0];
    String victim = HOSTS[1] + ":" + nodes[1].peerAddress().getPort();
    byte[] forged =
        GossipEnvelope.newBuilder()
            .setClusterId("tls-test")
            .setFromId("2")
            .setFromAddress(victim)
            .setUpdatesOnly(GossipUpdates.getDefaultInstance())
            .addUpdates(
                GossipUpdate.newBuilder()
                    .setMemberId("2")
                    .setAddress(victim)
                    .setState(GossipUpdate.State.DEAD)
                    .setIncarnation(Long.MAX_VALUE / 2)
                    .setFromId("2"))
            .build()
            .toByteArray();
    long before = target.gossip().latestStatus().transport().unauthenticatedDropped();
    try (DatagramSocket socket = new DatagramSocket(new InetSocketAddress(ROGUE_HOST, 0))) {
      socket.send(new DatagramPacket(forged, forged.length, target.peerAddress()));
    }
    LocalTestCluster.awaitTrue(
        "the forged datagram counted (or, were it taken, node 2 no longer alive)",
        WAIT_SECONDS,
        () ->
            target.gossip().status().join().transport().unauthenticatedDropped() > before
                || target.gossip().state(2) != MemberState.ALIVE);
    assertThat(target.gossip().status().get().members())
        .filteredOn(member -> member.view().memberId().equals("2"))
        .extracting(member -> member.view().state())
        .containsExactly(MemberState.ALIVE);
    assertThat(target.gossip().latestStatus().transport().malformedDropped()).isZero();
  }

  @Test
  void plaintextPeerFramesAreDroppedAndCounted() throws Exception {
    RingkvNode target = nodes[0];
    double before = TestCerts.failures(target.registry(), "peer", "plaintext");
    try (Socket socket = new Socket()) {
      socket.bind(new InetSocketAddress(ROGUE_HOST, 0));
      socket.connect(target.peerAddress(), 5_000);
      socket.setSoTimeout(10_000);
      OutputStream out = socket.getOutputStream();
      // A length prefix and bytes where a TLS record must start: not TLS.
      out.write(new byte[] {0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8});
      out.write(new byte[64]);
      out.flush();
      InputStream in = socket.getInputStream();
      byte[] buffer = new byte[256];
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      int read = 0;
      while (read >= 0 && System.nanoTime() < end) {
        read = in.read(buffer); // an alert at most, then end of stream
      }
      assertThat(read).as("the node closed the plaintext connection").isEqualTo(-1);
    }
    LocalTestCluster.awaitTrue(
        "the plaintext peer is counted",
        WAIT_SECONDS,
        () -> TestCerts.failures(target.registry(), "peer", "plaintext") > before);
  }

  @Test
  void rewrittenCertificateFilesAreUsedForNewConnectionsWithoutARestart() throws Exception {
    RingkvNode node = nodes[0];
    NodeTls probe =
        NodeTls.load(
            TestCerts.settings(certs, "client-root", certs.resolve("ca.crt")),
            new SimpleMeterRegistry());
    java.math.BigInteger before =
        TestCerts.presented(node.clientAddress(), probe).getSerialNumber();
    assertThat(before).isEqualTo(node.tls().certificate().getSerialNumber());

    Path next = TestCerts.reissue(certs, dir.resolve("reissued"), 1, HOSTS[0]);
    java.math.BigInteger renewed;
    try (NodeTls reissued =
        NodeTls.load(
            TestCerts.settings(next, "node-1", next.resolve("ca.crt")),
            new SimpleMeterRegistry())) {
      renewed = reissued.certificate().getSerialNumber();
    }
    assertThat(renewed).isNotEqualTo(before);
    Files.copy(next.resolve("node-1.key"), certs.resolve("node-1.key.tmp"));
    Files.copy(next.resolve("node-1.crt"), certs.resolve("node-1.crt.tmp"));
    Files.move(
        certs.resolve("node-1.crt.tmp"),
        certs.resolve("node-1.crt"),
        StandardCopyOption.REPLACE_EXISTING,
        StandardCopyOption.ATOMIC_MOVE);
    Files.move(
        certs.resolve("node-1.key.tmp"),
        certs.resolve("node-1.key"),
        StandardCopyOption.REPLACE_EXISTING,
        StandardCopyOption.ATOMIC_MOVE);

    LocalTestCluster.awaitTrue(
        "a new connection to node 1 sees the new certificate",
        WAIT_SECONDS,
        () -> {
          try {
            return TestCerts.presented(node.clientAddress(), probe)
                .getSerialNumber()
                .equals(renewed);
          } catch (Exception e) {
            throw new AssertionError(e);
          }
        });
    // Still one cluster: node 1 serves writes that need its peers.
    LocalTestCluster.putRetrying(
        rootKv(node),
        PutRequest.newBuilder()
            .setKey(ByteString.copyFromUtf8("after-reload"))
            .setValue(ByteString.copyFromUtf8("ok"))
            .build(),
        10,
        System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS));
  }
}
