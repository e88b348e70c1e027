package io.ringkv.server.snapshot;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.ringkv.proto.internal.Heartbeats;
import io.ringkv.proto.internal.RaftBatch;
import io.ringkv.proto.internal.SnapshotChunk;
import io.ringkv.proto.internal.SnapshotChunkAck;
import io.ringkv.raft.ConfState;
import io.ringkv.raft.Message;
import io.ringkv.raft.MessageType;
import io.ringkv.raft.Snapshot;
import io.ringkv.raft.SnapshotMetadata;
import io.ringkv.server.transport.PeerMessageHandler;
import io.ringkv.storage.ApplyBatch;
import io.ringkv.storage.KeyValue;
import io.ringkv.storage.Mutation;
import io.ringkv.storage.ScanRange;
import io.ringkv.storage.StorageEngine;
import io.ringkv.storage.StorageOptions;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two nodes' snapshot transfers wired back to back in memory (the frames themselves, not a peer
 * connection) over real RocksDB stores. Proves: a partition exported on the leader arrives in many
 * chunks, each under the chunk limit, is handed to the follower's Raft port as a MSG_SNAP with the
 * exported index pointing at a local directory, installs to the same keys and values, and the
 * leader's Raft port hears success; and that a tampered byte, a lost chunk, a sender that is not a
 * member, a partition not hosted, a snapshot above snapshot-size-bytes-max (either side), and a
 * second transfer to a busy peer are each refused, counted by reason, reported to the leader as
 * failed, and leave no scratch files. Values come from a seeded source (seed printed).
 */
class SnapshotTransfersTest {
  private static final long LEADER = 1;
  private static final long FOLLOWER = 2;
  private static final int CHUNK_BYTES = 16 * 1024;
  private static final int KEYS = 150;
  private static final long WAIT_SECONDS = 30;

  @TempDir Path directory;
  private final List<AutoCloseable> toClose = new ArrayList<>();
  private final SimpleMeterRegistry leaderMetrics = new SimpleMeterRegistry();
  private final SimpleMeterRegistry followerMetrics = new SimpleMeterRegistry();
  private final LinkedBlockingQueue<Boolean> reports = new LinkedBlockingQueue<>();
  private final LinkedBlockingQueue<Message> delivered = new LinkedBlockingQueue<>();
  private final List<Integer> chunkSizes = new ArrayList<>();
  private StorageEngine leaderStore;

  /** The leader's clock; a test moves it ahead by {@link #leaderClockAheadMillis}. */
  private final java.util.concurrent.atomic.AtomicLong leaderClockAheadMillis =
      new java.util.concurrent.atomic.AtomicLong();

  private final Clock leaderClock =
      new Clock() {
        @Override
        public java.time.ZoneId getZone() {
          return java.time.ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
          return this;
        }

        @Override
        public java.time.Instant instant() {
          return java.time.Instant.ofEpochMilli(millis());
        }

        @Override
        public long millis() {
          return System.currentTimeMillis() + leaderClockAheadMillis.get();
        }
      };
  private SnapshotTransfers leader;
  private SnapshotTransfers follower;

  @AfterEach
  void closeAll() throws Exception {
    for (int i = toClose.size() - 1; i >= 0; i--) {
      toClose.get(i).close();
    }
  }

  /** Alters or drops (null) chunks on their way to the follower. */
  private void start(
      UnaryOperator<SnapshotChunk> onTheWire,
      Set<Long> followerPeers,
      boolean followerHosts,
      long leaderSizeMax,
      long followerSizeMax,
      long timeoutMillis) {
    long seed = Long.getLong("seed", System.nanoTime());
    System.out.println("SnapshotTransfersTest seed " + seed);
    leaderStore = open("leader");
    fill(leaderStore, new SplittableRandom(seed));
    SnapshotTransfers[] followerRef = new SnapshotTransfers[1];
    leader =
        new SnapshotTransfers(
            LEADER,
            Set.of(FOLLOWER),
            new SnapshotTransferSettings(
                CHUNK_BYTES, 4, timeoutMillis, leaderSizeMax, directory.resolve("leader-snaps")),
            new ChunkSender() {
              @Override
              public boolean sendChunk(long toNodeId, SnapshotChunk chunk) {
                synchronized (chunkSizes) {
                  chunkSizes.add(chunk.getSerializedSize());
                }
                SnapshotChunk passed = onTheWire.apply(chunk);
                if (passed != null) {
                  followerRef[0].onSnapshotChunk(LEADER, passed);
                }
                return true;
              }

              @Override
              public boolean sendAck(long toNodeId, SnapshotChunkAck ack) {
                throw new AssertionError("the leader receives no chunks");
              }
            },
            port(true),
            new Ignored(),
            leaderClock,
            100,
            leaderMetrics);
    follower =
        new SnapshotTransfers(
            FOLLOWER,
            followerPeers,
            new SnapshotTransferSettings(
                CHUNK_BYTES,
                4,
                timeoutMillis,
                followerSizeMax,
                directory.resolve("follower-snaps")),
            new ChunkSender() {
              @Override
              public boolean sendChunk(long toNodeId, SnapshotChunk chunk) {
                throw new AssertionError("the follower sends no chunks");
              }

              @Override
              public boolean sendAck(long toNodeId, SnapshotChunkAck ack) {
                leader.onSnapshotChunkAck(FOLLOWER, ack);
                return true;
              }
            },
            port(followerHosts),
            new Ignored(),
            Clock.systemUTC(),
            200,
            followerMetrics);
    followerRef[0] = follower;
    toClose.add(leader);
    toClose.add(follower);
  }

  private void startDefault(UnaryOperator<SnapshotChunk> onTheWire) {
    start(onTheWire, Set.of(LEADER), true, 1L << 30, 1L << 30, 20_000);
  }

  @Test
  void partitionArrivesInManyChunksAndInstallsEqual() throws Exception {
    startDefault(chunk -> chunk);
    leader.ship(1, snapshotMessage(), leaderStore.partition(1));
    assertThat(reports.poll(WAIT_SECONDS, TimeUnit.SECONDS)).isTrue();
    Message message = delivered.poll(WAIT_SECONDS, TimeUnit.SECONDS);
    assertThat(message).isNotNull();
    assertThat(message.type()).isEqualTo(MessageType.SNAPSHOT);
    assertThat(message.snapshot().metadata().index()).isEqualTo(KEYS + 10L);
    assertThat(chunkSizes).hasSizeGreaterThan(KEYS * 1024 * 4 / CHUNK_BYTES / 2);
    assertThat(chunkSizes).allMatch(size -> size <= CHUNK_BYTES + 1024);
    Path received = Path.of(new String(message.snapshot().data(), StandardCharsets.UTF_8));
    assertThat(received).startsWith(directory.resolve("follower-snaps").resolve("incoming"));

    StorageEngine followerStore = open("follower");
    followerStore.partition(1).installSnapshot(received);
    List<KeyValue> expected = leaderStore.partition(1).scan(ScanRange.prefix(new byte[0]), 10_000);
    List<KeyValue> actual = followerStore.partition(1).scan(ScanRange.prefix(new byte[0]), 10_000);
    assertThat(actual).hasSize(KEYS);
    for (int i = 0; i < KEYS; i++) {
      assertThat(actual.get(i).key()).isEqualTo(expected.get(i).key());
      assertThat(actual.get(i).value().value()).isEqualTo(expected.get(i).value().value());
    }
    assertThat(received).doesNotExist(); // consumed by the install
    assertNoFiles(directory.resolve("leader-snaps"));
  }

  /** Bytes per second of the cap in the pacing tests: far below this harness's pace (~1 s). */
  private static final long PACE_BYTES_PER_SECOND = 128 * 1024;

  private record Shipped(long tookMillis, long sentBytes, int chunks) {}

  /** Ships {@code message} with the send rate capped at PACE_BYTES_PER_SECOND; waits for it. */
  private Shipped shipPaced(Message message) throws Exception {
    startDefault(chunk -> chunk);
    leader.limitSendRate(PACE_BYTES_PER_SECOND, System::nanoTime);
    long started = System.nanoTime();
    leader.ship(1, message, leaderStore.partition(1));
    assertThat(reports.poll(WAIT_SECONDS, TimeUnit.SECONDS)).isTrue();
    long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
    synchronized (chunkSizes) {
      return new Shipped(
          tookMillis, chunkSizes.stream().mapToLong(Integer::longValue).sum(), chunkSizes.size());
    }
  }

  @Test
  void aMoveSnapshotToALearnerIsPacedByRebalanceBytesPerSecondMax() throws Exception {
    Shipped shipped = shipPaced(snapshotMessageToLearner());
    long floorMillis =
        (shipped.sentBytes() - CHUNK_BYTES - shipped.chunks() * 1024L)
            * 1000
            / PACE_BYTES_PER_SECOND;
    System.out.printf(
        "sent %d bytes in %d chunks in %d ms at a cap of %d B/s (floor %d ms)%n",
        shipped.sentBytes(),
        shipped.chunks(),
        shipped.tookMillis(),
        PACE_BYTES_PER_SECOND,
        floorMillis);
    assertThat(floorMillis).as("enough data to see the pace").isGreaterThan(3_000);
    assertThat(shipped.tookMillis()).isGreaterThanOrEqualTo(floorMillis);
    assertThat(leaderMetrics.get("ringkv.snapshot.send.throttled.seconds").counter().count())
        .isPositive();
  }

  @Test
  void aVoterCatchingUpIsNotPaced() throws Exception {
    Shipped shipped = shipPaced(snapshotMessage());
    long pacedMillis = shipped.sentBytes() * 1000 / PACE_BYTES_PER_SECOND;
    System.out.printf(
        "voter catch-up: %d bytes in %d ms (paced: %d ms)%n",
        shipped.sentBytes(), shipped.tookMillis(), pacedMillis);
    // A follower that fell behind the log must not wait for the rebalance cap (minutes at 1 MiB/s).
    assertThat(shipped.tookMillis()).isLessThan(pacedMillis / 2);
    assertThat(leaderMetrics.get("ringkv.snapshot.send.throttled.seconds").counter().count())
        .isZero();
  }

  @Test
  void tamperedByteIsRefusedByChecksum() throws Exception {
    startDefault(chunk -> {
      if (chunk.getSequence() != 3) {
        return chunk;
      }
      byte[] data = chunk.getData().toByteArray();
      data[data.length / 2] ^= 1;
      return chunk.toBuilder().setData(com.google.protobuf.ByteString.copyFrom(data)).build();
    });
    assertRefused("wrong_checksum");
  }

  @Test
  void lostChunkIsRefusedBySequence() throws Exception {
    startDefault(chunk -> chunk.getSequence() == 2 ? null : chunk);
    assertRefused("wrong_sequence");
  }

  @Test
  void chunkLongerThanItsFileIsRefused() throws Exception {
    startDefault(
        chunk -> chunk.getSequence() == 1 ? chunk.toBuilder().setFileSizeBytes(5).build() : chunk);
    assertRefused("wrong_size");
  }

  @Test
  void senderThatIsNotAMemberIsRefused() throws Exception {
    start(chunk -> chunk, Set.of(3L), true, 1L << 30, 1L << 30, 20_000);
    assertRefused("unknown_peer");
  }

  @Test
  void partitionNotHostedIsRefused() throws Exception {
    start(chunk -> chunk, Set.of(LEADER), false, 1L << 30, 1L << 30, 20_000);
    assertRefused("not_hosted");
  }

  @Test
  void snapshotAboveTheFollowersLimitIsRefused() throws Exception {
    start(chunk -> chunk, Set.of(LEADER), true, 1L << 30, 64 * 1024, 20_000);
    assertRefused("too_large");
  }

  @Test
  void snapshotAboveTheLeadersLimitIsNotSent() throws Exception {
    start(chunk -> chunk, Set.of(LEADER), true, 64 * 1024, 1L << 30, 20_000);
    leader.ship(1, snapshotMessage(), leaderStore.partition(1));
    assertThat(reports.poll(WAIT_SECONDS, TimeUnit.SECONDS)).isFalse();
    assertThat(chunkSizes).isEmpty();
    assertThat(
            leaderMetrics
                .get("ringkv.snapshot.sends")
                .tag("outcome", "too_large")
                .counter()
                .count())
        .isEqualTo(1);
    assertNoFiles(directory.resolve("leader-snaps"));
  }

  @Test
  void secondTransferToABusyPeerIsRefusedAndASilentOneTimesOut() throws Exception {
    // Every chunk vanishes: the first transfer waits for acknowledgements until its timeout.
    start(chunk -> null, Set.of(LEADER), true, 1L << 30, 1L << 30, 1_500);
    leader.ship(1, snapshotMessage(), leaderStore.partition(1));
    leader.ship(1, snapshotMessage(), leaderStore.partition(1));
    assertThat(reports.poll(WAIT_SECONDS, TimeUnit.SECONDS)).as("busy").isFalse();
    assertThat(leaderMetrics.get("ringkv.snapshot.sends").tag("outcome", "busy").counter().count())
        .isEqualTo(1);
    assertThat(reports.poll(WAIT_SECONDS, TimeUnit.SECONDS)).as("timed out").isFalse();
    assertThat(delivered).isEmpty();
    assertNoFiles(directory.resolve("leader-snaps"));
  }

  @Test
  void aFollowerThatStopsAcknowledgingEndsTheTransferLongBeforeItsTimeout() throws Exception {
    // Every chunk vanishes, as when the follower is killed mid-transfer and restarted: the window
    // fills and no acknowledgement ever comes. The transfer timeout is ten minutes; the leader must
    // give up once the window has been silent past ACK_SILENCE_MILLIS_MAX (its clock is moved past
    // it), so Raft can start a new snapshot to the restarted follower.
    start(chunk -> null, Set.of(LEADER), true, 1L << 30, 1L << 30, 600_000);
    leader.ship(1, snapshotMessage(), leaderStore.partition(1));
    Thread.sleep(200); // let the window fill before time jumps (the jump only shortens the wait)
    leaderClockAheadMillis.set(SnapshotSender.ACK_SILENCE_MILLIS_MAX + 1_000);
    assertThat(reports.poll(WAIT_SECONDS, TimeUnit.SECONDS)).as("ended as failed").isFalse();
    assertThat(delivered).isEmpty();
  }

  private void assertRefused(String reason) throws Exception {
    leader.ship(1, snapshotMessage(), leaderStore.partition(1));
    assertThat(reports.poll(WAIT_SECONDS, TimeUnit.SECONDS)).isFalse();
    assertThat(delivered).isEmpty();
    assertThat(
            followerMetrics.get("ringkv.snapshot.rejected").tag("reason", reason).counter().count())
        .isGreaterThanOrEqualTo(1);
    // The receiver thread deleted the scratch before it answered REJECTED.
    assertNoFiles(directory.resolve("follower-snaps"));
    assertNoFiles(directory.resolve("leader-snaps"));
  }

  private RaftSnapshotPort port(boolean hosts) {
    return new RaftSnapshotPort() {
      @Override
      public boolean hosts(int partition) {
        return hosts;
      }

      @Override
      public void deliverSnapshot(long fromNodeId, int partition, Message message) {
        delivered.add(message);
      }

      @Override
      public void reportSnapshot(int partition, long toNodeId, boolean success) {
        reports.add(success);
      }
    };
  }

  private static Message snapshotMessage() {
    return Message.snapshot(
        FOLLOWER,
        LEADER,
        3,
        new Snapshot(
            new SnapshotMetadata(5, 2, ConfState.ofVoters(Set.of(1L, 2L, 3L))), new byte[0]));
  }

  /** The snapshot of a move: the receiver was just added as a learner. */
  private static Message snapshotMessageToLearner() {
    return Message.snapshot(
        FOLLOWER,
        LEADER,
        3,
        new Snapshot(
            new SnapshotMetadata(
                5,
                2,
                new ConfState(Set.of(1L, 3L, 4L), Set.of(FOLLOWER), Set.of(), Set.of(), false)),
            new byte[0]));
  }

  private StorageEngine open(String name) {
    StorageEngine engine =
        StorageEngine.open(
            StorageOptions.builder(directory.resolve(name), "transfer-test", 1).build());
    toClose.add(engine);
    return engine;
  }

  /** KEYS keys of 4 KiB random values, applied at indexes 11 to 10 + KEYS. */
  private static void fill(StorageEngine engine, SplittableRandom random) {
    for (int i = 0; i < KEYS; i++) {
      byte[] value = new byte[4096];
      random.nextBytes(value);
      long index = 11 + i;
      engine
          .partition(1)
          .apply(
              ApplyBatch.of(
                  index,
                  2,
                  0,
                  List.of(
                      new Mutation.Put(
                          String.format("key-%04d", i).getBytes(StandardCharsets.UTF_8),
                          value,
                          index))));
    }
  }

  private static void assertNoFiles(Path root) throws Exception {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> files = Files.walk(root)) {
      assertThat(files.filter(Files::isRegularFile).toList()).isEmpty();
    }
  }

  /** The Raft path behind the transfers; these tests send no Raft batches. */
  private static final class Ignored implements PeerMessageHandler {
    @Override
    public void onRaftBatch(long fromNodeId, RaftBatch batch) {}

    @Override
    public void onHeartbeats(long fromNodeId, Heartbeats heartbeats) {}
  }
}
