package io.ringkv.storage;

import java.util.Arrays;
import java.util.Locale;

/**
 * Where a node keeps its groups' Raft log entries and hard states. The choice is recorded in the
 * store when it is created: the two keep entries in different places, so a store never opens with
 * the other one (it would start with empty logs and lose acknowledged writes).
 */
public enum RaftLogEngine {
  /** Entries and hard states in the {@code raft_log} and {@code raft_state} column families. */
  ROCKSDB("rocksdb"),

  /**
   * Entries and hard states in one append-only segmented log of all groups (directory {@code
   * raftlog} inside the store); configurations and snapshot records stay in RocksDB.
   */
  SEGMENTED("segmented");

  private final String settingValue;

  RaftLogEngine(String settingValue) {
    this.settingValue = settingValue;
  }

  /** The name a setting or the store's meta record uses. */
  public String settingValue() {
    return settingValue;
  }

  /** The engine named {@code value} (case-insensitive), or an exception naming the choices. */
  public static RaftLogEngine parse(String value) {
    String wanted = value.trim().toLowerCase(Locale.ROOT);
    for (RaftLogEngine engine : values()) {
      if (engine.settingValue.equals(wanted)) {
        return engine;
      }
    }
    throw new IllegalArgumentException(
        "unknown Raft log engine '"
            + value
            + "', expected one of "
            + Arrays.stream(values()).map(RaftLogEngine::settingValue).toList());
  }
}
