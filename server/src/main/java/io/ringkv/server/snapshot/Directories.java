package io.ringkv.server.snapshot;

import io.ringkv.raft.Invariants;
import io.ringkv.storage.SnapshotFiles;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** File helpers of snapshot transfer: scratch directories and their cleanup, checksums, fsync. */
final class Directories {
  private static final Logger log = LoggerFactory.getLogger(Directories.class);

  /** How {@link #exportName} names an export in {@code outgoing/}: partition-to-node-transfer. */
  private static final Pattern EXPORT_NAME = Pattern.compile("\\d+-to-\\d+-\\d+");

  private Directories() {}

  /** The directory name in {@code outgoing/} of one export for one transfer. */
  static String exportName(int partition, long toNodeId, long transferId) {
    String name = partition + "-to-" + toNodeId + "-" + transferId;
    Invariants.check(EXPORT_NAME.matcher(name).matches(), "export name %s", name);
    return name;
  }

  /**
   * Deletes the exports a stopped process left in {@code outgoing}: a sender deletes its export
   * when the transfer ends, but a crash or kill in the middle leaves it, and nothing else would
   * ever delete it (each holds a copy of a partition). Only directories named as {@link
   * #exportName} names them, directly in {@code outgoing}, are deleted; anything else there is
   * logged and kept. Call before any transfer starts. Returns how many were deleted.
   */
  static int deleteStaleExports(Path outgoing) {
    if (!Files.isDirectory(outgoing)) {
      return 0;
    }
    int deleted = 0;
    try (Stream<Path> entries = Files.list(outgoing)) {
      for (Path entry : entries.toList()) {
        boolean ours =
            Files.isDirectory(entry, LinkOption.NOFOLLOW_LINKS)
                && EXPORT_NAME.matcher(entry.getFileName().toString()).matches();
        if (ours) {
          deleteTree(entry);
          deleted++;
        } else {
          log.warn("{} is not a snapshot export of this node; left in place", entry);
        }
      }
    } catch (IOException e) {
      log.warn("could not list {} to delete stale snapshot exports", outgoing, e);
    }
    if (deleted > 0) {
      log.info("deleted {} snapshot exports a previous run left in {}", deleted, outgoing);
    }
    return deleted;
  }

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
