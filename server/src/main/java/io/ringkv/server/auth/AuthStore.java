package io.ringkv.server.auth;

import com.google.protobuf.InvalidProtocolBufferException;
import io.grpc.Status;
import io.ringkv.proto.internal.AuthRecord;
import io.ringkv.server.membership.MetaMapStore;
import io.ringkv.server.raft.MultiRaftDriver;
import io.ringkv.storage.StoredValue;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.IntSupplier;
import java.util.function.UnaryOperator;

/**
 * The auth record in the meta group, stored the way the cluster map is: one reserved key, read on
 * the meta leader behind a ReadIndex, changed by a Txn that compares the key's mod revision (a
 * change computed from a stale read loses and is computed again).
 */
public final class AuthStore {
  /** A record and the mod revision it was stored at (0: never written). */
  public record Versioned(AuthRecord record, long revision) {}

  /** Compare-and-set rounds one change makes before it reports the contention. */
  static final int CHANGE_ATTEMPTS_MAX = 5;

  private final MultiRaftDriver driver;
  private final IntSupplier metaGroup;

  public AuthStore(MultiRaftDriver driver, IntSupplier metaGroup) {
    this.driver = driver;
    this.metaGroup = metaGroup;
  }

  /** Whether this node holds a replica of the meta group (only then can it read the record). */
  public boolean hostsMeta() {
    return driver.hosts(metaGroup.getAsInt());
  }

  /** The record in this node's meta replica now (not linearizable), if it holds one. */
  public Optional<Versioned> readLocal() {
    int meta = metaGroup.getAsInt();
    if (!driver.hosts(meta)) {
      return Optional.empty();
    }
    Optional<StoredValue> stored = driver.store(meta).get(AuthLimits.RECORD_KEY);
    if (stored.isEmpty()) {
      return Optional.of(new Versioned(AuthRecord.getDefaultInstance(), 0));
    }
    return Optional.of(new Versioned(parse(stored.get().value()), stored.get().modRevision()));
  }

  /** A linearizable read (on the meta leader; elsewhere the driver refuses with NOT_LEADER). */
  public CompletableFuture<Versioned> read() {
    return driver
        .readIndex(metaGroup.getAsInt())
        .thenApply(term ->
            readLocal()
                .orElseThrow(() ->
                    Status.UNAVAILABLE
                        .withDescription("the meta replica left this node")
                        .asRuntimeException()));
  }

  /**
   * Applies {@code change} to the current record and stores the result; a concurrent change makes
   * it read and apply again. Answers the stored record and its revision.
   */
  public CompletableFuture<Versioned> change(UnaryOperator<AuthRecord> change) {
    return attempt(change, 1);
  }

  private CompletableFuture<Versioned> attempt(UnaryOperator<AuthRecord> change, int attempt) {
    return read()
        .thenCompose(current -> {
          AuthRecord next = AuthRecords.checkSize(change.apply(current.record()));
          if (next.equals(current.record())) {
            return CompletableFuture.completedFuture(current);
          }
          return compareAndSet(current.revision(), next)
              .thenCompose(revision -> {
                if (revision > 0) {
                  return CompletableFuture.completedFuture(new Versioned(next, revision));
                }
                if (attempt >= CHANGE_ATTEMPTS_MAX) {
                  return CompletableFuture.failedFuture(
                      Status.ABORTED
                          .withDescription("the auth record kept changing; try again")
                          .asRuntimeException());
                }
                return attempt(change, attempt + 1);
              });
        });
  }

  /** Stores {@code next} if the key is still at {@code expected}; its new revision, or 0. */
  private CompletableFuture<Long> compareAndSet(long expected, AuthRecord next) {
    return driver
        .propose(
            metaGroup.getAsInt(),
            MetaMapStore.compareAndSetCommand(AuthLimits.RECORD_KEY, expected, next.toByteString()))
        .thenApply(outcome -> {
          if (outcome.result().hasError()) {
            throw Status.UNAVAILABLE
                .withDescription(
                    "auth record write refused: " + outcome.result().getError().getMessage())
                .asRuntimeException();
          }
          if (!outcome.result().getTxn().getSucceeded()) {
            return 0L;
          }
          return outcome.index();
        });
  }

  static AuthRecord parse(byte[] bytes) {
    try {
      return AuthRecord.parseFrom(bytes);
    } catch (InvalidProtocolBufferException e) {
      // Only ringkv writes this key; a value that does not parse is a bug or damage, never input.
      throw new IllegalStateException("the meta group's auth record does not parse", e);
    }
  }
}
