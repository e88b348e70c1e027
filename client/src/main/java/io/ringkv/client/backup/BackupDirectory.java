package io.ringkv.client.backup;

import com.google.protobuf.ByteString;
import com.google.protobuf.TextFormat;
import io.ringkv.proto.v1.BackupManifest;
import io.ringkv.proto.v1.BackupPartitionFile;
import io.ringkv.proto.v1.KeyValue;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * The layout of a backup directory, and its verification.
 *
 * <p>A backup directory holds one file per partition ({@code partition-NNNNN.kvs}: length-delimited
 * {@link KeyValue} messages in ascending key order) and {@link #MANIFEST_NAME} (a {@link
 * BackupManifest} in protobuf text format, readable by people) with each file's size, SHA-256 and
 * pair count. Every file is written under a temporary name, made durable and renamed; the manifest
 * comes last, so a directory with a manifest is a complete backup. {@link #verify} reads every byte
 * before a restore writes anything, and names the first file that is missing, truncated or damaged.
 */
public final class BackupDirectory {
  public static final String MANIFEST_NAME = "MANIFEST";
  public static final int FORMAT = 1;
  static final String PARTIAL_SUFFIX = ".partial";
  private static final Pattern FILE_NAME = Pattern.compile("partition-[0-9]{5}\\.kvs");

  /** Largest pair a backup file may hold: the key limit plus the largest value limit. */
  static final int RECORD_BYTES_MAX = 64 * 1024 + 64 * 1024 * 1024 + 64;

  private BackupDirectory() {}

  static String fileName(int partition) {
    return String.format("partition-%05d.kvs", partition);
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JVM has no SHA-256", e);
    }
  }

  /** Writes the manifest last, through a temporary name, durably. */
  static void writeManifest(Path directory, BackupManifest manifest) throws IOException {
    Path partial = directory.resolve(MANIFEST_NAME + PARTIAL_SUFFIX);
    Files.writeString(partial, TextFormat.printer().printToString(manifest));
    renameDurably(partial, directory.resolve(MANIFEST_NAME));
  }

  /** Syncs {@code from}, renames it to {@code to} atomically, and syncs the directory. */
  static void renameDurably(Path from, Path to) throws IOException {
    try (FileChannel file = FileChannel.open(from, StandardOpenOption.WRITE)) {
      file.force(true);
    }
    Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
    try (FileChannel parent = FileChannel.open(to.getParent(), StandardOpenOption.READ)) {
      parent.force(true);
    }
  }

  /**
   * Checks the whole backup in {@code directory}: manifest present and well formed, one file per
   * partition, each of the recorded size and SHA-256, each a sequence of well-formed pairs in
   * ascending key order matching the recorded count.
   *
   * @return the manifest
   * @throws BackupException naming the first file that fails
   */
  public static BackupManifest verify(Path directory) {
    BackupManifest manifest = readManifest(directory);
    for (BackupPartitionFile file : manifest.getPartitionsList()) {
      verifyFile(directory, file);
    }
    return manifest;
  }

  private static BackupManifest readManifest(Path directory) {
    Path path = directory.resolve(MANIFEST_NAME);
    String text;
    try {
      text = Files.readString(path, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw new BackupException(
          "incomplete backup: "
              + path
              + " is missing (a backup writes its manifest last, so this one did not finish)");
    } catch (IOException e) {
      throw new BackupException("cannot read " + path + ": " + e);
    }
    BackupManifest manifest;
    try {
      manifest = TextFormat.parse(text, BackupManifest.class);
    } catch (TextFormat.ParseException e) {
      throw new BackupException(
          "damaged backup: " + path + " is not a manifest: " + e.getMessage());
    }
    checkManifest(path, manifest);
    return manifest;
  }

  private static void checkManifest(Path path, BackupManifest manifest) {
    if (manifest.getFormat() != FORMAT) {
      throw new BackupException(
          "backup format " + manifest.getFormat() + " in " + path + " is unknown to this ringctl");
    }
    int count = manifest.getPartitionCount();
    List<BackupPartitionFile> files = manifest.getPartitionsList();
    if (count < 1 || files.size() != count) {
      throw new BackupException(
          "damaged backup: "
              + path
              + " lists "
              + files.size()
              + " partition files for a partition count of "
              + count);
    }
    for (int i = 0; i < count; i++) {
      BackupPartitionFile file = files.get(i);
      if (file.getPartition() != i || !FILE_NAME.matcher(file.getFileName()).matches()) {
        throw new BackupException(
            "damaged backup: " + path + " entry " + i + " is " + file.getFileName());
      }
    }
  }

  private static void verifyFile(Path directory, BackupPartitionFile file) {
    Path path = directory.resolve(file.getFileName());
    long size;
    try {
      size = Files.size(path);
    } catch (NoSuchFileException e) {
      throw new BackupException("incomplete backup: " + path + " is missing");
    } catch (IOException e) {
      throw new BackupException("cannot read " + path + ": " + e);
    }
    if (size != file.getSizeBytes()) {
      throw new BackupException(
          (size < file.getSizeBytes() ? "truncated backup file: " : "damaged backup file: ")
              + path
              + " holds "
              + size
              + " bytes, the manifest says "
              + file.getSizeBytes());
    }
    MessageDigest digest = sha256();
    long[] count = {0};
    ByteString[] previous = {null};
    try (InputStream in =
        new DigestInputStream(new BufferedInputStream(Files.newInputStream(path)), digest)) {
      readPairs(
          in,
          path,
          pair -> {
            if (previous[0] != null
                && ByteString.unsignedLexicographicalComparator()
                        .compare(previous[0], pair.getKey())
                    >= 0) {
              throw new BackupException("damaged backup file: " + path + ": keys out of order");
            }
            previous[0] = pair.getKey();
            count[0]++;
          });
    } catch (IOException e) {
      throw new BackupException("cannot read " + path + ": " + e);
    }
    String actual = HexFormat.of().formatHex(digest.digest());
    if (!actual.equals(file.getSha256Hex())) {
      throw new BackupException(
          "damaged backup file: "
              + path
              + ": SHA-256 is "
              + actual
              + ", the manifest says "
              + file.getSha256Hex());
    }
    if (count[0] != file.getKeyCount()) {
      throw new BackupException(
          "damaged backup file: "
              + path
              + " holds "
              + count[0]
              + " pairs, the manifest says "
              + file.getKeyCount());
    }
  }

  /** Reads every pair of one backup file; fails naming the file on a malformed record. */
  static void readPairs(InputStream in, Path path, Consumer<KeyValue> sink) throws IOException {
    while (true) {
      KeyValue pair;
      try {
        pair = KeyValue.parseDelimitedFrom(in);
      } catch (com.google.protobuf.InvalidProtocolBufferException e) {
        throw new BackupException("damaged backup file: " + path + ": " + e.getMessage());
      }
      if (pair == null) {
        return;
      }
      if (pair.getKey().isEmpty() || pair.getSerializedSize() > RECORD_BYTES_MAX) {
        throw new BackupException("damaged backup file: " + path + ": malformed pair");
      }
      sink.accept(pair);
    }
  }

  /** Reads every pair of a verified backup file. */
  static void forEachPair(Path directory, BackupPartitionFile file, Consumer<KeyValue> sink) {
    Path path = directory.resolve(file.getFileName());
    try (InputStream in = new BufferedInputStream(Files.newInputStream(path))) {
      readPairs(in, path, sink);
    } catch (IOException e) {
      throw new BackupException("cannot read " + path + ": " + e);
    }
  }
}
