package io.ringkv.raft;

/** What an entry's data holds. The numeric codes are persisted: never renumber them. */
public enum EntryType {
  /** An application command (or the empty no-op a new leader appends). */
  NORMAL(0),
  /** An encoded membership change, see {@code ConfChange}. */
  CONF_CHANGE(1);

  private final int code;

  EntryType(int code) {
    this.code = code;
  }

  /** The persisted code of this type. */
  public int code() {
    return code;
  }

  /**
   * The type with the given persisted code; fails loudly on an unknown code (corrupt or newer
   * data).
   */
  public static EntryType fromCode(int code) {
    for (EntryType type : values()) {
      if (type.code == code) {
        return type;
      }
    }
    throw new IllegalArgumentException("unknown entry type code " + code);
  }
}
