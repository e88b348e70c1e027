package io.ringkv.storage;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.rocksdb.EnvOptions;
import org.rocksdb.IngestExternalFileOptions;
import org.rocksdb.Options;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDBException;
import org.rocksdb.Snapshot;
import org.rocksdb.SstFileWriter;
import org.rocksdb.WriteBatch;

/**
 * Export and install of partition snapshots as SST files.
 *
 * <p>Export reads the partition's {@code data} range (user keys and sessions) and its applied state
 * from one RocksDB snapshot, writes them with {@link SstFileWriter}, then writes the manifest
 * (CRC32C of every file, and of the manifest itself) last and atomically: a directory without a
 * manifest is an unfinished export.
 *
 * <p>Install verifies everything first and makes the snapshot's files durable, then: (1) durably
 * writes an "installing" marker naming the snapshot directory, (2) deletes the partition's data and
 * changefeed with range deletes, (3) ingests the SST files (hard links of them are moved in, so no
 * bytes are copied and the originals stay), (4) durably writes the new applied state and changefeed
 * floor and clears the marker in one batch, (5) deletes the snapshot directory. Steps (2) to (4)
 * only depend on the files, so they can be redone any number of times: a crash anywhere between (1)
 * and (4) leaves the marker, and the next open rolls the install forward from the directory it
 * names ({@link #rollForward}). Only if those files are gone or damaged does the partition stay
 * unavailable, with the path in the reason.
 */
final class PartitionSnapshots {
  private static final int MANIFEST_FORMAT = 1;
  private static final String DATA_FILE = "data.sst";

  /** Where the hard links RocksDB moves in during an ingest are made, inside the snapshot. */
  static final String INGEST_LINKS_DIRECTORY = "ingest-links";

  private PartitionSnapshots() {}

  static SnapshotFiles export(Store store, long groupId, Path directory) {
    prepareEmptyDirectory(directory);
    Snapshot snapshot = store.db.getSnapshot();
    try (ReadOptions readOptions = new ReadOptions().setSnapshot(snapshot)) {
      AppliedState applied =
          RaftStateRecords.readAt(
              store, readOptions, groupId, Keys.TAG_APPLIED, DataRecords::applied);
      if (applied == null) {
        applied = AppliedState.EMPTY;
      }
      List<SnapshotFiles.FileEntry> files = new ArrayList<>();
      Path dataFile = directory.resolve(DATA_FILE);
      if (writeSst(store, groupId, readOptions, dataFile)) {
        fsync(dataFile);
        files.add(new SnapshotFiles.FileEntry(DATA_FILE, Files.size(dataFile), crcOf(dataFile)));
      }
      SnapshotFiles result = new SnapshotFiles(directory, groupId, applied, files);
      writeManifest(result);
      return result;
    } catch (IOException e) {
      throw new StorageException("snapshot export of group " + groupId + " to " + directory, e);
    } finally {
      store.db.releaseSnapshot(snapshot);
    }
  }

  private static boolean writeSst(Store store, long groupId, ReadOptions readOptions, Path file) {
    try (EnvOptions envOptions = new EnvOptions();
        Options options = new Options();
        SstFileWriter writer = new SstFileWriter(envOptions, options)) {
      long[] count = {0};
      store.scan(
          store.data,
          readOptions,
          Keys.group(groupId),
          Keys.groupEnd(groupId),
          (key, value) -> {
            if (count[0]++ == 0) {
              writer.open(file.toString());
            }
            // Verify before copying: a snapshot must never spread corrupt data to another node.
            Codec.open(key, value, "data of group " + groupId);
            writer.put(key, value);
            return true;
          });
      if (count[0] > 0) {
        writer.finish();
      }
      return count[0] > 0;
    } catch (RocksDBException e) {
      throw store.failure("write snapshot SST of group " + groupId, e);
    }
  }

  /** Reads and checks the manifest and every file it lists; nothing in the store is touched. */
  static SnapshotFiles verify(Path directory, long groupId) {
    SnapshotFiles files;
    try {
      files = readManifest(directory);
    } catch (IOException e) {
      throw new SnapshotRejectedException(
          "cannot read snapshot manifest in " + directory + ": " + e);
    }
    if (files.groupId() != groupId) {
      throw new SnapshotRejectedException(
          "snapshot in " + directory + " is of group " + files.groupId() + ", not " + groupId);
    }
    for (SnapshotFiles.FileEntry entry : files.files()) {
      Path file = directory.resolve(entry.name());
      try {
        long size = Files.size(file);
        int crc = crcOf(file);
        if (size != entry.sizeBytes() || crc != entry.crc32c()) {
          throw new SnapshotRejectedException(
              "snapshot file "
                  + file
                  + " does not match its manifest (size "
                  + size
                  + "/"
                  + entry.sizeBytes()
                  + ", crc32c "
                  + Codec.hex(crc)
                  + "/"
                  + Codec.hex(entry.crc32c())
                  + ")");
        }
      } catch (IOException e) {
        throw new SnapshotRejectedException("cannot read snapshot file " + file + ": " + e);
      }
    }
    return files;
  }

  static void install(Store store, long groupId, SnapshotFiles files, ChangefeedLog changefeed) {
    makeDurable(files);
    markInstalling(store, groupId, files.appliedState().index(), files.directory());
    redo(store, groupId, files, changefeed);
  }

  /** Steps 2 to 5; idempotent, so an interrupted install is finished by running them again. */
  private static void redo(Store store, long groupId, SnapshotFiles files, ChangefeedLog feed) {
    clearAndIngest(store, groupId, files);
    finishInstall(store, groupId, files.appliedState(), feed);
    deleteTree(files.directory());
  }

  /** An install interrupted before its last batch, as recorded by its marker. */
  record Interrupted(long index, Path directory) {}

  /** The marker of an interrupted install of {@code groupId}, or null if there is none. */
  static Interrupted interrupted(Store store, long groupId) {
    byte[] marker = Keys.state(groupId, Keys.TAG_INSTALLING);
    byte[] value = store.get(store.raftState, marker);
    if (value == null) {
      return null;
    }
    return Codec.decode(
        marker,
        value,
        "install marker of group " + groupId,
        in -> {
          long index = in.getLong();
          // Markers written before roll-forward existed hold only the index.
          Path directory =
              in.hasRemaining()
                  ? Path.of(new String(Codec.getBytes(in), StandardCharsets.UTF_8))
                  : null;
          return new Interrupted(index, directory);
        });
  }

  /**
   * Finishes the interrupted install of {@code groupId} from the files its marker names. Returns
   * null when done, or why it cannot be (files gone or damaged): the caller keeps the partition
   * unavailable and reports that reason.
   */
  static String rollForward(Store store, long groupId, Interrupted marker, ChangefeedLog feed) {
    if (marker.directory() == null) {
      return "the install marker of group " + groupId + " names no snapshot directory";
    }
    SnapshotFiles files;
    try {
      files = verify(marker.directory(), groupId);
    } catch (SnapshotRejectedException e) {
      return "group "
          + groupId
          + ": the snapshot files in "
          + marker.directory()
          + " cannot be used: "
          + e.getMessage();
    }
    if (files.appliedState().index() != marker.index()) {
      return "group "
          + groupId
          + ": the snapshot in "
          + marker.directory()
          + " is at index "
          + files.appliedState().index()
          + ", the install marker says "
          + marker.index();
    }
    redo(store, groupId, files, feed);
    return null;
  }

  /**
   * Step 1: the durable marker naming the directory; from here on a reopen redoes the install from
   * that directory.
   */
  static void markInstalling(Store store, long groupId, long index, Path directory) {
    byte[] marker = Keys.state(groupId, Keys.TAG_INSTALLING);
    byte[] path = directory.toAbsolutePath().toString().getBytes(StandardCharsets.UTF_8);
    try (WriteBatch batch = new WriteBatch()) {
      ByteBuffer payload = ByteBuffer.allocate(8 + 4 + path.length).putLong(index);
      Codec.putBytes(payload, path);
      batch.put(store.raftState, marker, Codec.seal(marker, payload));
      store.write(batch, true);
    } catch (RocksDBException e) {
      throw store.failure("mark snapshot install of group " + groupId, e);
    }
  }

  /** The files and the directory entries reach the disk before a marker points at them. */
  private static void makeDurable(SnapshotFiles files) {
    try {
      for (SnapshotFiles.FileEntry entry : files.files()) {
        fsync(files.directory().resolve(entry.name()));
      }
      fsync(files.manifest());
      fsync(files.directory());
    } catch (IOException e) {
      throw new StorageException("cannot make snapshot " + files.directory() + " durable", e);
    }
  }

  static void deleteTree(Path directory) {
    if (!Files.exists(directory)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(directory)) {
      for (Path path : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(path);
      }
    } catch (IOException e) {
      // The install is complete and durable; a leftover directory only costs space.
      LoggerHolder.log.warn("could not delete installed snapshot {}", directory, e);
    }
  }

  private static final class LoggerHolder {
    static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(PartitionSnapshots.class);
  }

  /** Steps 2 and 3: drop the old data and changefeed, ingest the snapshot's SST files. */
  static void clearAndIngest(Store store, long groupId, SnapshotFiles files) {
    clear(store, groupId);
    ingest(store, groupId, files);
  }

  /** Step 2: range deletes of the partition's data and changefeed. */
  static void clear(Store store, long groupId) {
    try (WriteBatch batch = new WriteBatch()) {
      batch.deleteRange(store.data, Keys.group(groupId), Keys.groupEnd(groupId));
      batch.deleteRange(store.changes, Keys.group(groupId), Keys.groupEnd(groupId));
      store.write(batch, false);
    } catch (RocksDBException e) {
      throw store.failure("clear group " + groupId + " for a snapshot", e);
    }
  }

  /**
   * Step 3: ingest the SST files without copying their bytes. RocksDB moves hard links of them
   * (made in {@link #INGEST_LINKS_DIRECTORY} inside the snapshot directory), so the originals stay
   * for a redo after a crash. Where links cannot be made, RocksDB copies the files instead.
   */
  static void ingest(Store store, long groupId, SnapshotFiles files) {
    if (files.files().isEmpty()) {
      return;
    }
    Path links = files.directory().resolve(INGEST_LINKS_DIRECTORY);
    List<String> paths = hardLinks(files, links);
    boolean move = paths != null;
    if (!move) {
      paths = new ArrayList<>();
      for (SnapshotFiles.FileEntry entry : files.files()) {
        paths.add(files.directory().resolve(entry.name()).toString());
      }
    }
    try (IngestExternalFileOptions ingest =
        new IngestExternalFileOptions()
            .setMoveFiles(move)
            .setAllowBlockingFlush(true)
            .setAllowGlobalSeqNo(true)) {
      store.db.ingestExternalFile(store.data, paths, ingest);
    } catch (RocksDBException e) {
      throw store.failure("ingest snapshot of group " + groupId, e);
    } finally {
      deleteTree(links);
    }
  }

  /** Hard links of the snapshot's files in {@code links}, or null if they cannot be made. */
  private static List<String> hardLinks(SnapshotFiles files, Path links) {
    deleteTree(links); // left by an ingest that crashed: made again
    try {
      Files.createDirectories(links);
      List<String> paths = new ArrayList<>();
      for (SnapshotFiles.FileEntry entry : files.files()) {
        Path link = links.resolve(entry.name());
        Files.createLink(link, files.directory().resolve(entry.name()));
        paths.add(link.toString());
      }
      return paths;
    } catch (IOException | UnsupportedOperationException e) {
      LoggerHolder.log.info("snapshot {}: no hard links ({}), ingest copies", files.directory(), e);
      deleteTree(links);
      return null;
    }
  }

  /** Step 4: new applied state and changefeed floor, marker cleared, all in one durable batch. */
  static void finishInstall(
      Store store, long groupId, AppliedState applied, ChangefeedLog changefeed) {
    try (WriteBatch batch = new WriteBatch()) {
      byte[] appliedKey = Keys.state(groupId, Keys.TAG_APPLIED);
      batch.put(store.raftState, appliedKey, DataRecords.encodeApplied(appliedKey, applied));
      batch.delete(store.raftState, Keys.state(groupId, Keys.TAG_INSTALLING));
      changefeed.writeWithFloor(batch, applied.index());
    } catch (RocksDBException e) {
      throw store.failure("finish snapshot install of group " + groupId, e);
    }
  }

  private static void prepareEmptyDirectory(Path directory) {
    try {
      Files.createDirectories(directory);
      try (Stream<Path> entries = Files.list(directory)) {
        if (entries.findAny().isPresent()) {
          throw new StorageException("snapshot directory " + directory + " is not empty");
        }
      }
    } catch (IOException e) {
      throw new StorageException("cannot prepare snapshot directory " + directory, e);
    }
  }

  private static void writeManifest(SnapshotFiles files) throws IOException {
    ByteBuffer body = ByteBuffer.allocate(64 * 1024);
    body.putInt(MANIFEST_FORMAT).putLong(files.groupId());
    AppliedState applied = files.appliedState();
    body.putLong(applied.index()).putLong(applied.term());
    Codec.putConfState(body, applied.confState());
    body.putInt(files.files().size());
    for (SnapshotFiles.FileEntry entry : files.files()) {
      Codec.putBytes(body, entry.name().getBytes(StandardCharsets.UTF_8));
      body.putLong(entry.sizeBytes()).putInt(entry.crc32c());
    }
    body.flip();
    byte[] bytes = new byte[body.remaining() + 4];
    body.get(bytes, 0, bytes.length - 4);
    CRC32C crc = new CRC32C();
    crc.update(bytes, 0, bytes.length - 4);
    ByteBuffer.wrap(bytes).putInt(bytes.length - 4, (int) crc.getValue());
    Path temporary = files.directory().resolve(SnapshotFiles.MANIFEST_NAME + ".tmp");
    Files.write(temporary, bytes);
    fsync(temporary);
    try {
      Files.move(temporary, files.manifest(), StandardCopyOption.ATOMIC_MOVE);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(temporary, files.manifest());
    }
    fsync(files.directory());
  }

  private static SnapshotFiles readManifest(Path directory) throws IOException {
    byte[] bytes = Files.readAllBytes(directory.resolve(SnapshotFiles.MANIFEST_NAME));
    if (bytes.length < 8) {
      throw new SnapshotRejectedException("snapshot manifest in " + directory + " is truncated");
    }
    CRC32C crc = new CRC32C();
    crc.update(bytes, 0, bytes.length - 4);
    int stored = ByteBuffer.wrap(bytes).getInt(bytes.length - 4);
    if ((int) crc.getValue() != stored) {
      throw new SnapshotRejectedException(
          "snapshot manifest in "
              + directory
              + " fails its checksum (stored "
              + Codec.hex(stored)
              + ", computed "
              + Codec.hex((int) crc.getValue())
              + ")");
    }
    ByteBuffer in = ByteBuffer.wrap(bytes, 0, bytes.length - 4);
    try {
      int format = in.getInt();
      if (format != MANIFEST_FORMAT) {
        throw new SnapshotRejectedException("snapshot manifest format " + format + " unknown");
      }
      long groupId = in.getLong();
      AppliedState applied = DataRecords.applied(in);
      int count = in.getInt();
      List<SnapshotFiles.FileEntry> files = new ArrayList<>();
      for (int i = 0; i < count; i++) {
        String name = new String(Codec.getBytes(in), StandardCharsets.UTF_8);
        if (name.contains("/") || name.contains("\\") || name.startsWith(".")) {
          throw new SnapshotRejectedException("snapshot file name '" + name + "' is not plain");
        }
        files.add(new SnapshotFiles.FileEntry(name, in.getLong(), in.getInt()));
      }
      return new SnapshotFiles(directory, groupId, applied, files);
    } catch (RuntimeException e) {
      if (e instanceof SnapshotRejectedException rejected) {
        throw rejected;
      }
      throw new SnapshotRejectedException(
          "snapshot manifest in " + directory + " is malformed: " + e);
    }
  }

  private static int crcOf(Path file) throws IOException {
    CRC32C crc = new CRC32C();
    byte[] buffer = new byte[64 * 1024];
    try (InputStream in = Files.newInputStream(file)) {
      for (int read = in.read(buffer); read >= 0; read = in.read(buffer)) {
        crc.update(buffer, 0, read);
      }
    }
    return (int) crc.getValue();
  }

  private static void fsync(Path path) throws IOException {
    boolean directory = Files.isDirectory(path);
    try (FileChannel channel =
        FileChannel.open(path, directory ? StandardOpenOption.READ : StandardOpenOption.WRITE)) {
      channel.force(true);
    }
  }
}
