package io.ringkv.storage;

import java.nio.file.Path;

/** The directory holds a valid store of another cluster or node; it was left untouched. */
public final class ForeignStoreException extends StorageException {
  private final Path path;

  public ForeignStoreException(Path path, String problem) {
    super("store at " + path + " belongs elsewhere: " + problem);
    this.path = path;
  }

  public Path path() {
    return path;
  }
}
