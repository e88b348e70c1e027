package io.ringkv.jepsen.harness.client;

/**
 * The few key-value calls the workloads make, each ending in an {@link Outcome}. One adapter talks
 * to one node. Keys and values are strings; an absent key reads as {@code null}. Implementations
 * decide, per error, whether the operation certainly did not happen ({@code :fail}) or may have
 * ({@code :info}); reads never change state, so a read that errs is always a {@code :fail}.
 */
public interface KvClientAdapter extends AutoCloseable {
  /** Reads {@code key}: ok with its value as a string, or null when absent. */
  Outcome read(String key);

  /** Writes {@code value} to {@code key}: ok with null. */
  Outcome write(String key, String value);

  /**
   * Sets {@code key} to {@code newValue} if it holds {@code expected} (null: absent): ok with null
   * when it did, fail when the comparison did not hold.
   */
  Outcome compareAndSet(String key, String expected, String newValue);

  /** Every key under {@code prefix}, in key order: ok with a {@code List<String>} of keys. */
  Outcome scanKeys(String prefix);

  @Override
  void close();
}
