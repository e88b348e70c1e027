package io.ringkv.storage;

import java.nio.file.Path;

/**
 * The directory holds files that are not a valid, readable store (damaged CURRENT, MANIFEST or SST
 * file, missing column families or identity). Nothing was reset or deleted.
 */
public final class CorruptStoreException extends StorageException {
  private final Path path;

  public CorruptStoreException(Path path, String problem, Throwable cause) {
    super("corrupt store at " + path + ": " + problem, cause);
    this.path = path;
  }

  public Path path() {
    return path;
  }
}
