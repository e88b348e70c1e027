package io.ringkv.jepsen.history;

/** The {@code :type} of a history entry. */
public enum OpType {
  /** A client started an operation. */
  INVOKE,
  /** The operation took effect exactly once, between its invoke and this completion. */
  OK,
  /** The operation definitely did not take effect. */
  FAIL,
  /** The outcome is unknown: it may have taken effect at any instant after its invoke, or never. */
  INFO;

  private final Keyword keyword = Keyword.of(name().toLowerCase(java.util.Locale.ROOT));

  /** The EDN keyword, e.g. {@code :invoke}. */
  public Keyword keyword() {
    return keyword;
  }

  /** The type named by {@code keyword}, or null when it names none. */
  public static OpType fromKeyword(Object keyword) {
    for (OpType type : values()) {
      if (type.keyword.equals(keyword)) {
        return type;
      }
    }
    return null;
  }
}
