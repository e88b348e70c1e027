package io.ringkv.client;

import java.util.List;
import java.util.Optional;

/**
 * The outcome of a transaction: whether every compare held (so the "then" operations ran, else the
 * "else" operations), the partition revision afterwards, and one result per operation that ran, in
 * order.
 */
public record TxnResult(boolean succeeded, long revision, List<OpResult> results) {
  public TxnResult {
    results = List.copyOf(results);
  }

  /** The result of one operation inside a transaction. */
  public sealed interface OpResult {}

  /** A get: the entry, or empty when the key does not exist. */
  public record GetResult(Optional<Entry> entry) implements OpResult {}

  /** A put, with the revision it created. */
  public record PutOpResult(long revision) implements OpResult {}

  /** A delete: whether the key existed. */
  public record DeleteOpResult(boolean deleted) implements OpResult {}
}
