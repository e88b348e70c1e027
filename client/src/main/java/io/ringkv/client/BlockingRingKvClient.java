package io.ringkv.client;

import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * The blocking face of a {@link RingKvClient}: the same operations, waiting for their result and
 * throwing the {@link RingKvException} subclass that says what went wrong. Obtain it with {@link
 * RingKvClient#blocking()}; it shares the client's connections and closes nothing itself.
 */
public final class BlockingRingKvClient {
  private final RingKvClient client;

  BlockingRingKvClient(RingKvClient client) {
    this.client = client;
  }

  /** The entry at {@code key}, linearizably; empty when it does not exist. */
  public Optional<Entry> get(byte[] key) {
    return await(client.get(key));
  }

  public Optional<Entry> get(String key) {
    return await(client.get(key));
  }

  public Optional<Entry> get(byte[] key, Consistency consistency) {
    return await(client.get(key, consistency));
  }

  public PutResult put(byte[] key, byte[] value) {
    return await(client.put(key, value));
  }

  public PutResult put(String key, String value) {
    return await(client.put(key, value));
  }

  public DeleteResult delete(byte[] key) {
    return await(client.delete(key));
  }

  public DeleteResult delete(String key) {
    return await(client.delete(key));
  }

  /** See {@link RingKvClient#compareAndSet}. */
  public boolean compareAndSet(byte[] key, byte[] expected, byte[] newValue) {
    return await(client.compareAndSet(key, expected, newValue));
  }

  /** Commits a transaction built with {@link RingKvClient#txn()}. */
  public TxnResult commit(Txn txn) {
    return await(txn.commit());
  }

  /**
   * A lazy stream of every entry {@code query} matches, in key order, fetched a page at a time as
   * the stream is consumed; a failed page fetch throws from the stream's terminal operation.
   */
  public Stream<Entry> scan(ScanQuery query) {
    Iterator<Entry> iterator = new PagedIterator(query);
    return StreamSupport.stream(
        Spliterators.spliteratorUnknownSize(
            iterator, Spliterator.ORDERED | Spliterator.NONNULL | Spliterator.IMMUTABLE),
        false);
  }

  /**
   * Waits for a future of a {@link RingKvClient} call, rethrowing its {@link RingKvException} (or
   * other runtime exception) as is rather than wrapped.
   */
  public static <T> T await(CompletableFuture<T> future) {
    try {
      return future.get();
    } catch (ExecutionException | CompletionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof RuntimeException runtime) {
        throw runtime;
      }
      if (cause instanceof Error error) {
        throw error;
      }
      throw new IllegalStateException(cause);
    } catch (InterruptedException e) {
      future.cancel(true);
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for ringkv", e);
    }
  }

  private final class PagedIterator implements Iterator<Entry> {
    private final ScanQuery query;
    private Iterator<Entry> page = java.util.Collections.emptyIterator();
    private byte[] nextKey;
    private boolean exhausted;

    PagedIterator(ScanQuery query) {
      this.query = query;
    }

    @Override
    public boolean hasNext() {
      while (!page.hasNext() && !exhausted) {
        ScanPage fetched = await(client.scanPage(query, nextKey));
        page = fetched.entries().iterator();
        if (fetched.nextKey().isPresent()) {
          byte[] continuation = fetched.nextKey().get();
          if (nextKey != null && java.util.Arrays.equals(continuation, nextKey)) {
            throw new IllegalStateException(
                "scan made no progress: node returned the same next key");
          }
          nextKey = continuation;
        } else {
          exhausted = true;
        }
      }
      return page.hasNext();
    }

    @Override
    public Entry next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      return page.next();
    }
  }
}
