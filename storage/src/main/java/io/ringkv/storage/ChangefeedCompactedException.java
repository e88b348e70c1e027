package io.ringkv.storage;

/** A changefeed read asked for revisions that retention has already dropped. */
public final class ChangefeedCompactedException extends StorageException {
  private final long oldestRetainedRevision;

  public ChangefeedCompactedException(long groupId, long revision, long oldestRetainedRevision) {
    super(
        "changefeed of group "
            + groupId
            + ": revision "
            + revision
            + " is compacted (oldest retained revision "
            + oldestRetainedRevision
            + ")");
    this.oldestRetainedRevision = oldestRetainedRevision;
  }

  public long oldestRetainedRevision() {
    return oldestRetainedRevision;
  }
}
