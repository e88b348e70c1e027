package io.ringkv.server.snapshot;

import io.ringkv.storage.SnapshotFiles;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** File helpers of snapshot transfer: deleting scratch trees, checksums, fsync. */
final class Directories {
  private static final Logger log = LoggerFactory.getLogger(Directories.class);

  private Directories() {}

  static void deleteTree(Path directory) {
    if (!Files.exists(directory)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(directory)) {
      for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(path);
      }
    } catch (IOException e) {
      log.warn("could not delete {}", directory, e);
    }
  }

  /** The manifest as a file entry of its own (size and CRC32C), so it travels like the others. */
  static SnapshotFiles.FileEntry manifestEntry(SnapshotFiles files) throws IOException {
    Path manifest = files.manifest();
    CRC32C crc = new CRC32C();
    byte[] buffer = new byte[64 * 1024];
    try (InputStream in = Files.newInputStream(manifest)) {
      for (int read = in.read(buffer); read >= 0; read = in.read(buffer)) {
        crc.update(buffer, 0, read);
      }
    }
    return new SnapshotFiles.FileEntry(
        SnapshotFiles.MANIFEST_NAME, Files.size(manifest), (int) crc.getValue());
  }

  static void fsync(Path path) throws IOException {
    boolean directory = Files.isDirectory(path);
    try (FileChannel channel =
        FileChannel.open(path, directory ? StandardOpenOption.READ : StandardOpenOption.WRITE)) {
      channel.force(true);
    }
  }
}
