package io.ringkv.client;

import com.google.protobuf.ByteString;
import io.ringkv.proto.v1.Compare;
import io.ringkv.proto.v1.DeleteRequest;
import io.ringkv.proto.v1.GetRequest;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.proto.v1.RequestOp;
import io.ringkv.proto.v1.TxnRequest;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

/**
 * A transaction under construction: compares, then operations to run if all hold ({@code then...})
 * or if any fails ({@code orElse...}). Every key must live in one partition (co-locate keys with a
 * {@code {hash tag}}, see {@link io.ringkv.routing.KeyHasher}); the node rejects others with {@link
 * InvalidRequestException}. A missing key compares as version 0, mod revision 0.
 *
 * <pre>{@code
 * TxnResult result = client.txn()
 *     .ifVersionEquals(key, 3)
 *     .thenPut(key, newValue)
 *     .orElseGet(key)
 *     .commit().join();
 * }</pre>
 */
public final class Txn {
  private final TxnRequest.Builder request = TxnRequest.newBuilder();
  private final Function<TxnRequest.Builder, CompletableFuture<TxnResult>> committer;
  private byte[] routingKey;

  Txn(Function<TxnRequest.Builder, CompletableFuture<TxnResult>> committer) {
    this.committer = committer;
  }

  private Txn compare(byte[] key, Compare.Builder compare) {
    remember(key);
    request.addCompare(compare.setKey(ByteString.copyFrom(key)));
    return this;
  }

  /** Holds when the key's value equals {@code value} (a missing key never matches). */
  public Txn ifValueEquals(byte[] key, byte[] value) {
    return compare(
        key,
        Compare.newBuilder()
            .setTarget(Compare.Target.VALUE)
            .setResult(Compare.Result.EQUAL)
            .setValue(ByteString.copyFrom(value)));
  }

  /** Holds when the key's version equals {@code version} (0: the key does not exist). */
  public Txn ifVersionEquals(byte[] key, long version) {
    return compare(
        key,
        Compare.newBuilder()
            .setTarget(Compare.Target.VERSION)
            .setResult(Compare.Result.EQUAL)
            .setVersion(version));
  }

  /** Holds when the key's mod revision equals {@code modRevision}. */
  public Txn ifModRevisionEquals(byte[] key, long modRevision) {
    return compare(
        key,
        Compare.newBuilder()
            .setTarget(Compare.Target.MOD_REVISION)
            .setResult(Compare.Result.EQUAL)
            .setModRevision(modRevision));
  }

  /** Holds when the key does not exist. */
  public Txn ifAbsent(byte[] key) {
    return ifVersionEquals(key, 0);
  }

  public Txn thenPut(byte[] key, byte[] value) {
    request.addSuccess(putOp(key, value));
    return this;
  }

  public Txn thenDelete(byte[] key) {
    request.addSuccess(deleteOp(key));
    return this;
  }

  public Txn thenGet(byte[] key) {
    request.addSuccess(getOp(key));
    return this;
  }

  public Txn orElsePut(byte[] key, byte[] value) {
    request.addFailure(putOp(key, value));
    return this;
  }

  public Txn orElseDelete(byte[] key) {
    request.addFailure(deleteOp(key));
    return this;
  }

  public Txn orElseGet(byte[] key) {
    request.addFailure(getOp(key));
    return this;
  }

  /**
   * Sends the transaction (once; retries reuse its session and sequence, so it applies at most
   * once).
   *
   * @throws IllegalStateException if it names no key at all
   */
  public CompletableFuture<TxnResult> commit() {
    if (routingKey == null) {
      throw new IllegalStateException("a transaction needs at least one compare or operation");
    }
    return committer.apply(request.clone());
  }

  byte[] routingKey() {
    return routingKey;
  }

  private void remember(byte[] key) {
    RingKvClient.checkKey(key);
    if (routingKey == null) {
      routingKey = key.clone();
    }
  }

  private RequestOp putOp(byte[] key, byte[] value) {
    remember(key);
    RingKvClient.checkValue(value);
    return RequestOp.newBuilder()
        .setPut(
            PutRequest.newBuilder()
                .setKey(ByteString.copyFrom(key))
                .setValue(ByteString.copyFrom(value)))
        .build();
  }

  private RequestOp deleteOp(byte[] key) {
    remember(key);
    return RequestOp.newBuilder()
        .setDelete(DeleteRequest.newBuilder().setKey(ByteString.copyFrom(key)))
        .build();
  }

  private RequestOp getOp(byte[] key) {
    remember(key);
    return RequestOp.newBuilder()
        .setGet(GetRequest.newBuilder().setKey(ByteString.copyFrom(key)))
        .build();
  }
}
