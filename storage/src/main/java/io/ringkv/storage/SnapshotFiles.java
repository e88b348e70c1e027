package io.ringkv.storage;

import java.nio.file.Path;
import java.util.List;

/**
 * An exported partition snapshot on disk: a manifest and the SST files it lists.
 *
 * @param directory where the files are
 * @param groupId the partition's group
 * @param appliedState the applied index, term and configuration the snapshot reflects
 * @param files the SST files (names inside {@code directory}, sizes, CRC32C), possibly none
 */
public record SnapshotFiles(
    Path directory, long groupId, AppliedState appliedState, List<FileEntry> files) {
  public static final String MANIFEST_NAME = "snapshot.manifest";

  public SnapshotFiles {
    files = List.copyOf(files);
  }

  public Path manifest() {
    return directory.resolve(MANIFEST_NAME);
  }

  /** One SST file of a snapshot. */
  public record FileEntry(String name, long sizeBytes, int crc32c) {}
}
