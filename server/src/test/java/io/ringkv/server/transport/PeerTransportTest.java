package io.ringkv.server.transport;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.ringkv.proto.internal.GroupHeartbeat;
import io.ringkv.proto.internal.GroupRaftMessage;
import io.ringkv.proto.internal.Handshake;
import io.ringkv.proto.internal.HandshakeAck;
import io.ringkv.proto.internal.HandshakeReject;
import io.ringkv.proto.internal.Heartbeats;
import io.ringkv.proto.internal.PeerFrame;
import io.ringkv.proto.internal.RaftBatch;
import io.ringkv.proto.internal.RaftEntry;
import io.ringkv.proto.internal.RaftMessage;
import io.ringkv.proto.internal.RaftMessageType;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Proves the peer transport over real TCP on loopback aliases 127.0.0.104-.106: batches and
 * heartbeats travel both ways over the single connection of each pair; a node of another cluster is
 * refused on both sides of the handshake; garbage, an oversized length prefix, a silent (half-open)
 * connection and out-of-order frames are closed, counted and leave legitimate peers working; a
 * restarted peer is reconnected to; outgoing connections leave from the node's own address; and the
 * send queue of an unreachable peer is bounded with drops counted. Waits are bounded polls on
 * conditions, never sleeps.
 */
class PeerTransportTest {
  private static final String CLUSTER = "test-cluster";
  private static final long WAIT_MILLIS = 10_000;

  private final List<PeerTransport> transports = new ArrayList<>();
  private final List<AutoCloseable> closeables = new ArrayList<>();

  record Received(long from, PeerFrame frame) {}

  static final class RecordingHandler implements PeerMessageHandler {
    final BlockingQueue<Received> received = new LinkedBlockingQueue<>();

    @Override
    public void onRaftBatch(long fromNodeId, RaftBatch batch) {
      received.add(new Received(fromNodeId, PeerFrame.newBuilder().setRaftBatch(batch).build()));
    }

    @Override
    public void onHeartbeats(long fromNodeId, Heartbeats heartbeats) {
      received.add(
          new Received(fromNodeId, PeerFrame.newBuilder().setHeartbeats(heartbeats).build()));
    }

    Received next() throws InterruptedException {
      Received item = received.poll(WAIT_MILLIS, TimeUnit.MILLISECONDS);
      assertThat(item).as("a frame within %d ms", WAIT_MILLIS).isNotNull();
      return item;
    }
  }

  record Node(PeerTransport transport, RecordingHandler handler, SimpleMeterRegistry registry) {}

  @AfterEach
  void closeAll() throws Exception {
    for (PeerTransport transport : transports) {
      transport.close();
    }
    for (AutoCloseable closeable : closeables) {
      closeable.close();
    }
  }

  @Test
  void twoNodesExchangeBatchesBothWaysOverOneConnection() throws Exception {
    Node one = start(1, "127.0.0.104", 0, CLUSTER, settings -> settings);
    Node two = start(2, "127.0.0.105", 0, CLUSTER, settings -> settings);
    connect(one, two);

    RaftBatch batch = batch(7, 3, "hello");
    assertThat(one.transport().sendRaftBatch(2, batch)).isTrue();
    Received atTwo = two.handler().next();
    assertThat(atTwo.from()).isEqualTo(1);
    assertThat(atTwo.frame().getRaftBatch()).isEqualTo(batch);

    Heartbeats heartbeats =
        Heartbeats.newBuilder()
            .addHeartbeats(GroupHeartbeat.newBuilder().setGroupId(1).setTerm(4).setCommit(9))
            .addResponses(GroupHeartbeat.newBuilder().setGroupId(2).setTerm(4))
            .build();
    assertThat(two.transport().sendHeartbeats(1, heartbeats)).isTrue();
    Received atOne = one.handler().next();
    assertThat(atOne.from()).isEqualTo(2);
    assertThat(atOne.frame().getHeartbeats()).isEqualTo(heartbeats);

    // One connection for the pair: node 1 dialed, node 2 accepted.
    assertThat(counter(one, "ringkv.peer.connections.established", "direction", "out"))
        .isEqualTo(1);
    assertThat(counter(two, "ringkv.peer.connections.established", "direction", "in")).isEqualTo(1);
    assertThat(counter(two, "ringkv.peer.connections.established", "direction", "out")).isZero();
  }

  @Test
  void threeNodesExchangeBatchesInOrderPerPair() throws Exception {
    Node[] nodes = {
      start(1, "127.0.0.104", 0, CLUSTER, s -> s),
      start(2, "127.0.0.105", 0, CLUSTER, s -> s),
      start(3, "127.0.0.106", 0, CLUSTER, s -> s)
    };
    for (Node a : nodes) {
      for (Node b : nodes) {
        if (a != b) {
          a.transport().setPeer(b.transport().nodeId(), b.transport().localAddress());
        }
      }
    }
    for (Node a : nodes) {
      for (Node b : nodes) {
        if (a != b) {
          awaitTrue(() -> a.transport().isConnected(b.transport().nodeId()), "all connected");
        }
      }
    }
    int batchesPerPair = 50;
    for (int i = 0; i < batchesPerPair; i++) {
      for (Node a : nodes) {
        for (Node b : nodes) {
          if (a != b) {
            assertThat(a.transport().sendRaftBatch(b.transport().nodeId(), batch(i, i, "x")))
                .isTrue();
          }
        }
      }
    }
    for (Node b : nodes) {
      long[] nextIndexFrom = new long[4];
      for (int i = 0; i < batchesPerPair * 2; i++) {
        Received received = b.handler().next();
        long from = received.from();
        RaftMessage message = received.frame().getRaftBatch().getMessages(0).getMessage();
        assertThat(message.getIndex())
            .as("order from %d", from)
            .isEqualTo(nextIndexFrom[(int) from]);
        nextIndexFrom[(int) from]++;
      }
      assertThat(b.handler().received).isEmpty();
    }
  }

  @Test
  void peerOfAnotherClusterIsRefusedAndCounted() throws Exception {
    Node one = start(1, "127.0.0.104", 0, CLUSTER, s -> s);
    Node stranger = start(2, "127.0.0.105", 0, "other-cluster", s -> s);
    Node two = start(3, "127.0.0.106", 0, CLUSTER, s -> s);
    // The stranger (node 2) accepts; node 1 dials it and gets a rejection.
    one.transport().setPeer(2, stranger.transport().localAddress());
    awaitTrue(
        () ->
            counter(stranger, "ringkv.peer.connections.closed", "reason", "cluster_mismatch") >= 1,
        "stranger refuses node 1");
    awaitTrue(
        () -> counter(one, "ringkv.peer.connections.closed", "reason", "rejected_by_peer") >= 1,
        "node 1 learns it was refused");
    assertThat(one.transport().isConnected(2)).isFalse();
    assertThat(one.transport().sendRaftBatch(2, batch(1, 1, "lost"))).isTrue(); // queued only
    // The legitimate peer still works.
    connect(one, two);
    one.transport().sendRaftBatch(3, batch(1, 2, "ok"));
    assertThat(two.handler().next().from()).isEqualTo(1);
    assertThat(stranger.handler().received).isEmpty();
    assertThat(stranger.transport().isConnected(1)).isFalse();
  }

  @Test
  void dialerRefusesAnAcceptorThatAnswersForAnotherCluster() throws Exception {
    Node one = start(1, "127.0.0.104", 0, CLUSTER, s -> s);
    try (ServerSocket fake = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.105"))) {
      fake.setSoTimeout((int) WAIT_MILLIS);
      one.transport().setPeer(2, (InetSocketAddress) fake.getLocalSocketAddress());
      try (Socket socket = fake.accept()) {
        socket.setSoTimeout((int) WAIT_MILLIS);
        PeerFrame hello = readFrame(socket.getInputStream());
        assertThat(hello.getHandshake().getClusterId()).isEqualTo(CLUSTER);
        assertThat(hello.getHandshake().getNodeId()).isEqualTo(1);
        assertThat(hello.getHandshake().getTargetNodeId()).isEqualTo(2);
        writeFrame(
            socket,
            PeerFrame.newBuilder()
                .setHandshakeAck(
                    HandshakeAck.newBuilder()
                        .setClusterId("other-cluster")
                        .setNodeId(2)
                        .setProtocolVersion(PeerTransport.PROTOCOL_VERSION))
                .build());
        assertThat(socket.getInputStream().read()).as("dialer closes").isEqualTo(-1);
      }
    }
    assertThat(counter(one, "ringkv.peer.connections.closed", "reason", "cluster_mismatch"))
        .isEqualTo(1);
    assertThat(one.transport().isConnected(2)).isFalse();
  }

  @Test
  void garbageHugeLengthAndHalfOpenConnectionsLeaveLegitimatePeersWorking() throws Exception {
    Node two = start(2, "127.0.0.105", 0, CLUSTER, s -> s.withTimeouts(500, s.idleTimeoutMillis()));
    Node one = start(1, "127.0.0.104", 0, CLUSTER, s -> s);
    InetSocketAddress target = two.transport().localAddress();

    // A half-open connection: connects, sends two bytes of a length prefix, then nothing.
    Socket halfOpen = rawConnect(target);
    halfOpen.getOutputStream().write(new byte[] {0, 0});
    halfOpen.getOutputStream().flush();
    // An HTTP request: its first four bytes read as a length of about 1.2 GB.
    Socket http = rawConnect(target);
    http.getOutputStream().write("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes());
    // The largest possible length prefix.
    Socket huge = rawConnect(target);
    huge.getOutputStream().write(new byte[] {(byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF});
    // A small frame that is not protobuf at all.
    Socket junk = rawConnect(target);
    junk.getOutputStream().write(new byte[] {0, 0, 0, 6, (byte) 0xFF, (byte) 0xFF, 1, 2, 3, 4});
    // Random bytes from a printed seed.
    long seed = System.nanoTime();
    System.out.println("garbage seed " + seed);
    byte[] random = new byte[4096];
    new SplittableRandom(seed).nextBytes(random);
    Socket noise = rawConnect(target);
    noise.getOutputStream().write(random);
    // A well-formed frame that is not a handshake.
    Socket early = rawConnect(target);
    writeFrame(early, PeerFrame.newBuilder().setRaftBatch(batch(1, 1, "sneaky")).build());

    // Meanwhile the legitimate peer connects and talks.
    connect(one, two);
    one.transport().sendRaftBatch(2, batch(5, 5, "legit"));
    Received received = two.handler().next();
    assertThat(received.from()).isEqualTo(1);
    assertThat(received.frame().getRaftBatch().getMessages(0).getGroupId()).isEqualTo(5);

    for (Socket socket : List.of(halfOpen, http, huge, junk, early)) {
      assertClosedByPeer(socket);
    }
    assertClosedByPeerIgnoringData(noise);
    assertThat(counter(two, "ringkv.peer.connections.closed", "reason", "handshake_timeout"))
        .isGreaterThanOrEqualTo(1);
    assertThat(counter(two, "ringkv.peer.connections.closed", "reason", "frame_too_large"))
        .isGreaterThanOrEqualTo(2);
    assertThat(counter(two, "ringkv.peer.connections.closed", "reason", "malformed"))
        .isGreaterThanOrEqualTo(2);
    assertThat(two.handler().received).isEmpty();

    // Still fine afterwards, both ways.
    two.transport().sendRaftBatch(1, batch(6, 6, "after"));
    assertThat(one.handler().next().frame().getRaftBatch().getMessages(0).getGroupId())
        .isEqualTo(6);
    assertThat(one.transport().isConnected(2)).isTrue();
  }

  @Test
  void handshakeFromTheWrongDirectionOrForAnotherNodeIsRejectedWithAReason() throws Exception {
    Node two = start(2, "127.0.0.105", 0, CLUSTER, s -> s);
    InetSocketAddress target = two.transport().localAddress();
    // Node 3 must not dial node 2: the lower id of a pair dials.
    Socket wrongDirection = rawConnect(target);
    writeFrame(wrongDirection, handshake(CLUSTER, 3, 2));
    assertThat(readFrame(wrongDirection.getInputStream()).getHandshakeReject().getReason())
        .isEqualTo(HandshakeReject.Reason.WRONG_DIRECTION);
    assertClosedByPeer(wrongDirection);
    // A dialer that meant node 5 (stale address) is told this is not node 5.
    Socket wrongNode = rawConnect(target);
    writeFrame(wrongNode, handshake(CLUSTER, 1, 5));
    assertThat(readFrame(wrongNode.getInputStream()).getHandshakeReject().getReason())
        .isEqualTo(HandshakeReject.Reason.WRONG_NODE);
    assertClosedByPeer(wrongNode);
    assertThat(counter(two, "ringkv.peer.connections.closed", "reason", "wrong_direction"))
        .isEqualTo(1);
    assertThat(counter(two, "ringkv.peer.connections.closed", "reason", "wrong_node")).isEqualTo(1);
  }

  @Test
  void silentHandshakenPeerIsClosedAfterTheIdleTimeoutWhileKeepalivesHoldRealPeers()
      throws Exception {
    long idleMillis = 600;
    Node two = start(2, "127.0.0.105", 0, CLUSTER, s -> s.withTimeouts(5_000, idleMillis));
    // A hand-written peer (node 1 of this cluster, as far as node 2 can tell) that handshakes
    // correctly, then stops talking.
    Socket silent = rawConnect(two.transport().localAddress());
    writeFrame(silent, handshake(CLUSTER, 1, 2));
    assertThat(readFrame(silent.getInputStream()).getHandshakeAck().getNodeId()).isEqualTo(2);
    long start = System.nanoTime();
    assertClosedByPeerIgnoringData(silent); // keepalives arrive first, then the close
    assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start))
        .isGreaterThanOrEqualTo(idleMillis / 2);
    assertThat(counter(two, "ringkv.peer.connections.closed", "reason", "idle")).isEqualTo(1);
    // The real node 1 connects and stays connected across several idle periods: keepalives.
    Node one = start(1, "127.0.0.104", 0, CLUSTER, s -> s.withTimeouts(5_000, idleMillis));
    connect(one, two);
    double established = counter(one, "ringkv.peer.connections.established", "direction", "out");
    long quietUntil = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(idleMillis * 4);
    while (System.nanoTime() < quietUntil) {
      assertThat(one.transport().isConnected(2)).isTrue();
      TimeUnit.MILLISECONDS.sleep(20); // sampling interval while a known span of time passes
    }
    assertThat(counter(one, "ringkv.peer.connections.established", "direction", "out"))
        .isEqualTo(established);
    assertThat(counter(two, "ringkv.peer.connections.closed", "reason", "idle")).isEqualTo(1);
  }

  @Test
  void restartedPeersAreReconnectedInBothDirections() throws Exception {
    Node one = start(1, "127.0.0.104", 0, CLUSTER, s -> s);
    Node two = start(2, "127.0.0.105", 0, CLUSTER, s -> s);
    connect(one, two);
    int portOfTwo = two.transport().localAddress().getPort();
    int portOfOne = one.transport().localAddress().getPort();

    // The accepting side (node 2) restarts on the same address: node 1 redials.
    close(two);
    awaitTrue(() -> !one.transport().isConnected(2), "node 1 notices node 2 is gone");
    Node twoAgain = start(2, "127.0.0.105", portOfTwo, CLUSTER, s -> s);
    twoAgain.transport().setPeer(1, one.transport().localAddress());
    awaitTrue(() -> one.transport().isConnected(2), "node 1 reconnects to restarted node 2");
    one.transport().sendRaftBatch(2, batch(1, 1, "again"));
    assertThat(twoAgain.handler().next().from()).isEqualTo(1);

    // The dialing side (node 1) restarts: it dials node 2 again, and node 2's traffic flows.
    close(one);
    awaitTrue(() -> !twoAgain.transport().isConnected(1), "node 2 notices node 1 is gone");
    // Sent while node 1 is down: queued (bounded) and delivered once it is back.
    assertThat(twoAgain.transport().sendRaftBatch(1, batch(2, 2, "queued"))).isTrue();
    Node oneAgain = start(1, "127.0.0.104", portOfOne, CLUSTER, s -> s);
    oneAgain.transport().setPeer(2, twoAgain.transport().localAddress());
    awaitTrue(() -> twoAgain.transport().isConnected(1), "restarted node 1 dials node 2");
    assertThat(oneAgain.handler().next().frame().getRaftBatch().getMessages(0).getGroupId())
        .isEqualTo(2);
  }

  @Test
  void outgoingConnectionsLeaveFromTheNodesOwnAddress() throws Exception {
    Node one = start(1, "127.0.0.104", 0, CLUSTER, s -> s);
    try (ServerSocket fake = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.105"))) {
      fake.setSoTimeout((int) WAIT_MILLIS);
      one.transport().setPeer(2, (InetSocketAddress) fake.getLocalSocketAddress());
      try (Socket socket = fake.accept()) {
        assertThat(socket.getInetAddress().getHostAddress()).isEqualTo("127.0.0.104");
      }
    }
  }

  @Test
  void sendQueueOfAnUnreachablePeerIsBoundedAndDropsAreCounted() throws Exception {
    Node one = start(1, "127.0.0.104", 0, CLUSTER, s -> s.withLimits(s.frameSizeBytesMax(), 4));
    // Nobody listens there: connection refused, retried with backoff.
    one.transport().setPeer(2, new InetSocketAddress("127.0.0.105", freePort("127.0.0.105")));
    int accepted = 0;
    for (int i = 0; i < 10; i++) {
      if (one.transport().sendRaftBatch(2, batch(i, i + 1, "q"))) {
        accepted++;
      }
    }
    assertThat(accepted).isEqualTo(4);
    assertThat(counter(one, "ringkv.peer.frames.dropped", "reason", "queue_full")).isEqualTo(6);
    assertThat(one.transport().sendRaftBatch(9, batch(1, 1, "nobody"))).isFalse();
    assertThat(counter(one, "ringkv.peer.frames.dropped", "reason", "unknown_peer")).isEqualTo(1);
    awaitTrue(() -> counter(one, "ringkv.peer.dial.failures") >= 2, "dialing is retried");
  }

  @Test
  void framesAboveTheSizeLimitAreDroppedBeforeSending() throws Exception {
    Node one =
        start(1, "127.0.0.104", 0, CLUSTER, s -> s.withLimits(64 * 1024, s.sendQueueFramesMax()));
    Node two = start(2, "127.0.0.105", 0, CLUSTER, s -> s);
    connect(one, two);
    assertThat(one.transport().sendRaftBatch(2, batch(1, 1, "x".repeat(70 * 1024)))).isFalse();
    assertThat(counter(one, "ringkv.peer.frames.dropped", "reason", "frame_too_large"))
        .isEqualTo(1);
    assertThat(one.transport().sendRaftBatch(2, batch(1, 2, "small"))).isTrue();
    assertThat(two.handler().next().frame().getRaftBatch().getMessages(0).getMessage().getIndex())
        .isEqualTo(2);
  }

  // --- helpers ---------------------------------------------------------------------------------

  private Node start(
      long nodeId,
      String host,
      int port,
      String cluster,
      java.util.function.UnaryOperator<PeerTransportSettings> tweak)
      throws Exception {
    PeerTransportSettings settings =
        tweak.apply(
            PeerTransportSettings.defaults(cluster, nodeId, new InetSocketAddress(host, port)));
    RecordingHandler handler = new RecordingHandler();
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    long seed = nodeId * 1_000_003L;
    PeerTransport transport =
        new PeerTransport(settings, handler, registry, new SplittableRandom(seed)).start();
    transports.add(transport);
    return new Node(transport, handler, registry);
  }

  private void close(Node node) {
    node.transport().close();
    transports.remove(node.transport());
  }

  private static void connect(Node a, Node b) {
    a.transport().setPeer(b.transport().nodeId(), b.transport().localAddress());
    b.transport().setPeer(a.transport().nodeId(), a.transport().localAddress());
    awaitTrue(
        () ->
            a.transport().isConnected(b.transport().nodeId())
                && b.transport().isConnected(a.transport().nodeId()),
        "nodes " + a.transport().nodeId() + " and " + b.transport().nodeId() + " connected");
  }

  private static PeerFrame handshake(String cluster, long nodeId, long targetNodeId) {
    return PeerFrame.newBuilder()
        .setHandshake(
            Handshake.newBuilder()
                .setClusterId(cluster)
                .setNodeId(nodeId)
                .setTargetNodeId(targetNodeId)
                .setProtocolVersion(PeerTransport.PROTOCOL_VERSION))
        .build();
  }

  private static RaftBatch batch(long group, long index, String data) {
    RaftMessage message =
        RaftMessage.newBuilder()
            .setType(RaftMessageType.MSG_APP)
            .setFrom(0)
            .setTerm(1)
            .setIndex(index)
            .addEntries(
                RaftEntry.newBuilder()
                    .setTerm(1)
                    .setIndex(index + 1)
                    .setData(ByteString.copyFromUtf8(data)))
            .build();
    return RaftBatch.newBuilder()
        .addMessages(GroupRaftMessage.newBuilder().setGroupId(group).setMessage(message))
        .build();
  }

  private static double counter(Node node, String name, String... tags) {
    var counter = node.registry().find(name).tags(tags).counter();
    return counter == null ? 0 : counter.count();
  }

  private Socket rawConnect(InetSocketAddress target) throws IOException {
    Socket socket = new Socket();
    socket.bind(new InetSocketAddress("127.0.0.14", 0));
    socket.connect(target, (int) WAIT_MILLIS);
    socket.setSoTimeout((int) WAIT_MILLIS);
    closeables.add(socket);
    return socket;
  }

  private static void assertClosedByPeer(Socket socket) throws IOException {
    try {
      assertThat(socket.getInputStream().read()).isEqualTo(-1);
    } catch (SocketTimeoutException e) {
      throw new AssertionError("connection not closed within " + WAIT_MILLIS + " ms", e);
    } catch (IOException e) {
      // Connection reset: closed with unread data pending, also a close.
    }
  }

  private static void assertClosedByPeerIgnoringData(Socket socket) throws IOException {
    InputStream in = socket.getInputStream();
    try {
      while (in.read() != -1) {
        // A stranger may get a rejection frame before the close.
      }
    } catch (SocketTimeoutException e) {
      throw new AssertionError("connection not closed within " + WAIT_MILLIS + " ms", e);
    } catch (IOException e) {
      // reset
    }
  }

  private static PeerFrame readFrame(InputStream in) throws IOException {
    DataInputStream data = new DataInputStream(in);
    int length = data.readInt();
    byte[] body = new byte[length];
    data.readFully(body);
    return PeerFrame.parseFrom(body);
  }

  private static void writeFrame(Socket socket, PeerFrame frame) throws IOException {
    DataOutputStream out = new DataOutputStream(socket.getOutputStream());
    out.writeInt(frame.getSerializedSize());
    frame.writeTo(out);
    out.flush();
  }

  private static int freePort(String host) throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName(host))) {
      return socket.getLocalPort();
    }
  }

  static void awaitTrue(BooleanSupplier condition, String what) {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(WAIT_MILLIS);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out after " + WAIT_MILLIS + " ms waiting for: " + what);
      }
      Thread.onSpinWait();
      try {
        TimeUnit.MILLISECONDS.sleep(5); // polling interval of a bounded wait, not a guessed delay
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted", e);
      }
    }
  }
}
