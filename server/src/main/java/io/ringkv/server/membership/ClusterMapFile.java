package io.ringkv.server.membership;

import com.google.protobuf.InvalidProtocolBufferException;
import io.ringkv.proto.internal.ClusterMap;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Optional;

/**
 * The newest cluster map this node adopted, kept in {@code <data-dir>/cluster-map.pb} so a restart
 * starts from it rather than from the configured members (which stop being the truth after the
 * first join or decommission). Written as a temporary file, synced, then renamed over the old one
 * and the directory synced: a crash leaves the old map or the new one, never a torn one.
 */
public final class ClusterMapFile {
  public static final String FILE_NAME = "cluster-map.pb";
  private static final String TEMPORARY_NAME = FILE_NAME + ".tmp";

  private final Path directory;

  public ClusterMapFile(Path dataDir) {
    this.directory = dataDir;
  }

  public Path path() {
    return directory.resolve(FILE_NAME);
  }

  /**
   * The persisted map, or empty when there is none (first start).
   *
   * @throws IllegalStateException the file is unreadable or not a cluster map
   */
  public Optional<ClusterMap> read() {
    Path file = path();
    if (!Files.exists(file)) {
      return Optional.empty();
    }
    try {
      ClusterMap map = ClusterMap.parseFrom(Files.readAllBytes(file));
      if (map.getEpoch() == 0 || map.getClusterId().isEmpty()) {
        throw new IllegalStateException(file + " holds no cluster map (epoch 0 or no cluster id)");
      }
      return Optional.of(map);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException(file + " is damaged: " + e.getMessage(), e);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file, e);
    }
  }

  /** Replaces the persisted map with {@code map}, durably. */
  public synchronized void write(ClusterMap map) {
    Path temporary = directory.resolve(TEMPORARY_NAME);
    try {
      try (FileChannel channel =
          FileChannel.open(
              temporary,
              StandardOpenOption.CREATE,
              StandardOpenOption.TRUNCATE_EXISTING,
              StandardOpenOption.WRITE)) {
        ByteBuffer bytes = ByteBuffer.wrap(map.toByteArray());
        while (bytes.hasRemaining()) {
          channel.write(bytes);
        }
        channel.force(true);
      }
      try {
        Files.move(
            temporary, path(), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(temporary, path(), StandardCopyOption.REPLACE_EXISTING);
      }
      try (FileChannel dir = FileChannel.open(directory, StandardOpenOption.READ)) {
        dir.force(true);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + path(), e);
    }
  }
}
