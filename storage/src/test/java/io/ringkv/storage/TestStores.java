package io.ringkv.storage;

import io.ringkv.raft.Entry;
import io.ringkv.raft.EntryType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/** Shared helpers of the storage tests: options for a temp dir, entries, and directory digests. */
final class TestStores {
  static final String CLUSTER = "cluster-test";
  static final long NODE = 1;

  private TestStores() {}

  static StorageOptions.Builder options(Path directory) {
    return StorageOptions.builder(directory, CLUSTER, NODE);
  }

  static StorageEngine open(Path directory) {
    return StorageEngine.open(options(directory).build());
  }

  static List<Entry> entries(long firstIndex, long lastIndex, long term) {
    List<Entry> entries = new ArrayList<>();
    for (long index = firstIndex; index <= lastIndex; index++) {
      entries.add(new Entry(term, index, EntryType.NORMAL, bytes("entry-" + index + "-" + term)));
    }
    return entries;
  }

  static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  static String text(byte[] bytes) {
    return new String(bytes, StandardCharsets.UTF_8);
  }

  /** File name (relative) to SHA-256 of its content, for every file under {@code directory}. */
  static Map<String, String> digest(Path directory) {
    Map<String, String> digests = new TreeMap<>();
    try (Stream<Path> files = Files.walk(directory)) {
      for (Path file : files.filter(Files::isRegularFile).toList()) {
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        digests.put(
            directory.relativize(file).toString(),
            HexFormat.of().formatHex(sha.digest(Files.readAllBytes(file))));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    return digests;
  }
}
