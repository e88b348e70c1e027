package io.ringkv.server.snapshot;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.ringkv.proto.internal.SnapshotChunk;
import io.ringkv.proto.internal.SnapshotChunkAck;
import io.ringkv.raft.Message;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves that snapshot exports a killed node left in {@code outgoing/} are deleted when its
 * snapshot sender starts, and nothing else: export directories (with their files) directly in
 * {@code outgoing/} go; a file and a directory of other names in {@code outgoing/}, and an
 * export-named directory outside it ({@code incoming/} and the snapshot root), stay. Before, a
 * crash during a transfer left its copy of the partition on disk for good.
 */
class StaleExportCleanupTest {
  @TempDir Path directory;

  @Test
  void senderStartDeletesOnlyLeftoverExportsInOutgoing() throws Exception {
    SnapshotTransferSettings settings =
        new SnapshotTransferSettings(
            64 * 1024,
            SnapshotTransferSettings.WINDOW_CHUNKS_DEFAULT,
            SnapshotTransferSettings.TRANSFER_TIMEOUT_MILLIS_DEFAULT,
            SnapshotTransferSettings.SNAPSHOT_SIZE_BYTES_MAX_DEFAULT,
            directory);
    Path outgoing = settings.outgoing();
    Path leftover = outgoing.resolve(Directories.exportName(3, 2, 4_611_686_018_427_387_904L));
    Files.createDirectories(leftover.resolve("nested"));
    Files.write(leftover.resolve("data.sst"), new byte[1024]);
    Files.write(leftover.resolve("nested/MANIFEST"), new byte[16]);
    Path emptyLeftover = Files.createDirectories(outgoing.resolve(Directories.exportName(0, 1, 7)));
    Path foreignFile = Files.writeString(outgoing.resolve("notes.txt"), "an operator's notes");
    Path foreignDirectory = Files.createDirectories(outgoing.resolve("3-to-2-backup"));
    Path exportNamedFile = Files.writeString(outgoing.resolve("5-to-1-9"), "a file, not an export");
    Path incomingLookalike = Files.createDirectories(settings.incoming().resolve("3-to-2-1"));
    Path rootLookalike = Files.createDirectories(directory.resolve("3-to-2-1"));

    try (SnapshotSender sender =
        new SnapshotSender(
            settings,
            new NoChunks(),
            new NoRaft(),
            Clock.systemUTC(),
            1,
            new SimpleMeterRegistry())) {
      assertThat(leftover).doesNotExist();
      assertThat(emptyLeftover).doesNotExist();
      assertThat(foreignFile).hasContent("an operator's notes");
      assertThat(foreignDirectory).isDirectory();
      assertThat(exportNamedFile).exists();
      assertThat(incomingLookalike).isDirectory();
      assertThat(rootLookalike).isDirectory();
    }
  }

  private static final class NoChunks implements ChunkSender {
    @Override
    public boolean sendChunk(long toNodeId, SnapshotChunk chunk) {
      throw new AssertionError("no transfer runs");
    }

    @Override
    public boolean sendAck(long toNodeId, SnapshotChunkAck ack) {
      throw new AssertionError("no transfer runs");
    }
  }

  private static final class NoRaft implements RaftSnapshotPort {
    @Override
    public boolean hosts(int partition) {
      return false;
    }

    @Override
    public void deliverSnapshot(long fromNodeId, int partition, Message message) {
      throw new AssertionError("no transfer runs");
    }

    @Override
    public void reportSnapshot(int partition, long toNodeId, boolean success) {
      throw new AssertionError("no transfer runs");
    }
  }
}
