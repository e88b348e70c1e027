package io.ringkv.server.raft;

import io.ringkv.raft.Invariants;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Received snapshot directories stepped into a Raft core and not installed yet, oldest first per
 * partition. Driver thread only.
 *
 * <p>A core may ignore a delivered snapshot (stale term or index), and nothing tells the driver so;
 * such directories are deleted when a later snapshot of the partition is installed, or when more
 * than {@link #PER_PARTITION_MAX} wait, so scratch space stays bounded.
 */
final class ReceivedSnapshots {
  private static final Logger log = LoggerFactory.getLogger(ReceivedSnapshots.class);

  /** Delivered, uninstalled snapshot directories kept per partition. */
  static final int PER_PARTITION_MAX = 4;

  private final Map<Integer, List<Path>> delivered = new HashMap<>();

  /** Records a directory just stepped into {@code partition}'s core. */
  void delivered(int partition, Path directory) {
    List<Path> waiting = delivered.computeIfAbsent(partition, p -> new ArrayList<>());
    waiting.add(directory);
    if (waiting.size() > PER_PARTITION_MAX) {
      deleteTree(waiting.removeFirst());
    }
  }

  /**
   * Takes {@code directory} for installation; every other waiting directory of the partition was
   * superseded and is deleted.
   */
  void takeForInstall(int partition, Path directory) {
    List<Path> waiting = delivered.getOrDefault(partition, new ArrayList<>());
    Invariants.check(
        waiting.remove(directory),
        "partition %d: snapshot to install from %s was not delivered",
        partition,
        directory);
    waiting.forEach(ReceivedSnapshots::deleteTree);
    waiting.clear();
  }

  static void deleteTree(Path directory) {
    if (!Files.exists(directory)) {
      return;
    }
    try (var paths = Files.walk(directory)) {
      for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(path);
      }
    } catch (IOException e) {
      log.warn("could not delete {}", directory, e);
    }
  }
}
