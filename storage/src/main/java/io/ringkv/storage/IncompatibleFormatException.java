package io.ringkv.storage;

import java.nio.file.Path;

/** The store was written in a format version this build does not understand; it was untouched. */
public final class IncompatibleFormatException extends StorageException {
  private final Path path;

  public IncompatibleFormatException(Path path, int foundVersion, int supportedVersion) {
    super(
        "store at "
            + path
            + " has format version "
            + foundVersion
            + ", this build supports up to "
            + supportedVersion);
    this.path = path;
  }

  public Path path() {
    return path;
  }
}
