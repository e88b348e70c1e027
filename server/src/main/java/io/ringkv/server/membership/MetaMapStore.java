package io.ringkv.server.membership;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.ringkv.proto.internal.ClusterMap;
import io.ringkv.proto.internal.Command;
import io.ringkv.proto.v1.Compare;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.proto.v1.RequestOp;
import io.ringkv.proto.v1.TxnRequest;
import io.ringkv.server.raft.MultiRaftDriver;
import io.ringkv.storage.StoredValue;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The cluster map as the meta group holds it: a linearizable read on the meta group's leader, and a
 * compare-and-set that proposes a Txn comparing the map key's mod revision. Used only on the node
 * that leads the meta group (elsewhere the driver answers NOT_LEADER).
 *
 * <p>Before the first write the key is absent: the map is then the one every initial member
 * computed alike from its configuration ({@code initial}), at revision 0, and the first
 * compare-and-set (expecting mod revision 0, "absent") stores it with its change.
 */
public final class MetaMapStore implements Rebalancer.MapStore {
  private final MultiRaftDriver driver;
  private final int metaGroup;
  private final Supplier<ClusterMap> initial;
  private final Consumer<ClusterMap> written;

  /**
   * @param initial the map before the first write (the configured members' initial map)
   * @param written hears every map this store wrote (the node adopts it and pushes it to members)
   */
  public MetaMapStore(
      MultiRaftDriver driver,
      int metaGroup,
      Supplier<ClusterMap> initial,
      Consumer<ClusterMap> written) {
    this.driver = driver;
    this.metaGroup = metaGroup;
    this.initial = initial;
    this.written = written;
  }

  @Override
  public CompletableFuture<Versioned> read() {
    return driver.readIndex(metaGroup).thenApply(term -> readLocal());
  }

  /**
   * The map in the local replica's store as of now (not linearizable: a follower may lag), or the
   * initial map at revision 0 when none was written yet.
   */
  public Versioned readLocal() {
    Optional<StoredValue> stored = driver.store(metaGroup).get(ClusterMaps.META_MAP_KEY);
    if (stored.isEmpty()) {
      return new Versioned(initial.get(), 0);
    }
    return new Versioned(parse(stored.get().value()), stored.get().modRevision());
  }

  static ClusterMap parse(byte[] bytes) {
    try {
      return ClusterMap.parseFrom(bytes);
    } catch (InvalidProtocolBufferException e) {
      // Only ringkv writes this key; a value that does not parse is a bug or damage, never input.
      throw new IllegalStateException("the meta group's cluster map does not parse", e);
    }
  }

  /**
   * The meta group command that puts {@code value} at {@code key} only if the key's mod revision is
   * still {@code expectedRevision} (0: absent); the other meta records are written the same way.
   */
  public static Command compareAndSetCommand(byte[] key, long expectedRevision, ByteString value) {
    ByteString keyBytes = ByteString.copyFrom(key);
    TxnRequest txn =
        TxnRequest.newBuilder()
            .addCompare(
                Compare.newBuilder()
                    .setKey(keyBytes)
                    .setTarget(Compare.Target.MOD_REVISION)
                    .setResult(Compare.Result.EQUAL)
                    .setModRevision(expectedRevision))
            .addSuccess(
                RequestOp.newBuilder()
                    .setPut(PutRequest.newBuilder().setKey(keyBytes).setValue(value)))
            .build();
    return Command.newBuilder().setTxn(txn).build();
  }

  @Override
  public CompletableFuture<Boolean> compareAndSet(long expectedRevision, ClusterMap next) {
    return driver
        .propose(
            metaGroup,
            compareAndSetCommand(ClusterMaps.META_MAP_KEY, expectedRevision, next.toByteString()))
        .thenApply(outcome -> {
          if (outcome.result().hasError()) {
            throw new IllegalStateException(
                "cluster map write refused: " + outcome.result().getError().getMessage());
          }
          boolean succeeded = outcome.result().getTxn().getSucceeded();
          if (succeeded) {
            written.accept(next);
          }
          return succeeded;
        });
  }
}
