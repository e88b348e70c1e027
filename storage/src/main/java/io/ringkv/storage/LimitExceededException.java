package io.ringkv.storage;

/** An input is above a configured limit; nothing of the request was written. */
public final class LimitExceededException extends StorageException {
  private final String limitName;
  private final long value;
  private final long limit;

  public LimitExceededException(String limitName, long value, long limit) {
    super(limitName + " exceeded: " + value + " > " + limit);
    this.limitName = limitName;
    this.value = value;
    this.limit = limit;
  }

  /** The name of the setting in {@link StorageOptions}, e.g. {@code keySizeBytesMax}. */
  public String limitName() {
    return limitName;
  }

  public long value() {
    return value;
  }

  public long limit() {
    return limit;
  }
}
