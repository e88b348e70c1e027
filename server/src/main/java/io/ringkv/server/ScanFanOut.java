package io.ringkv.server;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.ringkv.proto.v1.KeyValue;
import io.ringkv.proto.v1.ScanRequest;
import io.ringkv.proto.v1.ScanResponse;
import io.ringkv.raft.Invariants;
import io.ringkv.server.raft.MultiRaftDriver;
import io.ringkv.storage.ScanRange;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;

/**
 * Serves a Scan: asks every partition for one page at once (each through the {@link LeaderRouter},
 * so each may wait for a read barrier or a forward to its leader) and merges the pages in key
 * order.
 *
 * <p>Design notes. Each partition returns up to limit + 1 pairs: a partition with more than {@code
 * limit} in range proves there is more, so the merged page is exact and {@code next_key} resumes
 * right after its last key. Pages are cut by bytes as well, so that no response (a partition's
 * page, forwarded or not, and the merged page) exceeds response-size-bytes-max; a partition page
 * cut by bytes says so with {@code more}, and the merged page ends at its last key. A page
 * forwarded by another node (marked with its partition) is served for that partition alone. Runs on
 * the call executor; never on the transport thread.
 */
final class ScanFanOut {
  /** Room in a page for the header, next key tag and flags (the next key itself is counted). */
  static final int PAGE_ROOM_BYTES = 1024;

  /** Upper bound of a pair's encoding beyond its key and value: tags, lengths, three varints. */
  static final int PAIR_OVERHEAD_BYTES = 48;

  private final RequestValidation validation;
  private final MultiRaftDriver driver;
  private final LeaderRouter router;
  private final Executor callExecutor;

  ScanFanOut(
      RequestValidation validation,
      MultiRaftDriver driver,
      LeaderRouter router,
      Executor callExecutor) {
    this.validation = validation;
    this.driver = driver;
    this.router = router;
    this.callExecutor = callExecutor;
  }

  ScanResponse scan(ScanRequest request) {
    Integer onePartition = ForwardingHeaders.scanPartition();
    boolean forwardedPage = onePartition != null;
    int limit = validation.scanLimit(request, forwardedPage);
    ScanRange range = RequestValidation.scanRange(request);
    boolean linearizable = RequestValidation.linearizable(request.getConsistency());
    int partitionCount = validation.layout().partitionCount();
    if (forwardedPage) {
      int partition = onePartition;
      if (partition < 0 || partition >= partitionCount) {
        throw KvErrors.malformed("no partition " + partition);
      }
      return scanPartition(partition, range, limit, linearizable, request);
    }
    int perPartition = limit + 1;
    ScanRequest page = request.toBuilder().setLimit(perPartition).build();
    Executor executor = Context.current().fixedContextExecutor(callExecutor);
    List<CompletableFuture<ScanResponse>> parts = new ArrayList<>(partitionCount);
    for (int partition = 0; partition < partitionCount; partition++) {
      int each = partition;
      parts.add(
          CompletableFuture.supplyAsync(
              () -> scanPartition(each, range, perPartition, linearizable, page), executor));
    }
    List<ScanResponse> pages = new ArrayList<>(partitionCount);
    for (CompletableFuture<ScanResponse> part : parts) {
      try {
        pages.add(part.join());
      } catch (CompletionException e) {
        parts.forEach(other -> other.cancel(false));
        if (e.getCause() instanceof StatusRuntimeException status) {
          throw status;
        }
        throw Status.INTERNAL.withDescription(String.valueOf(e.getCause())).asRuntimeException();
      }
    }
    return merge(pages, limit);
  }

  /**
   * Merges per-partition pages into one page of at most {@code limit} pairs and {@link
   * #pageBytesMax} bytes. A page cut by bytes ({@code more} set) knows nothing past its last key,
   * so the merged page ends at the smallest such key.
   */
  private ScanResponse merge(List<ScanResponse> pages, int limit) {
    List<KeyValue> merged = new ArrayList<>();
    ByteString cutoff = null;
    for (ScanResponse page : pages) {
      merged.addAll(page.getKvsList());
      if (page.getMore()) {
        Invariants.check(page.getKvsCount() > 0, "a scan page cut by bytes holds no pair");
        ByteString last = page.getKvs(page.getKvsCount() - 1).getKey();
        cutoff = cutoff == null || compareBytes(last, cutoff) < 0 ? last : cutoff;
      }
    }
    merged.sort((a, b) -> compareBytes(a.getKey(), b.getKey()));
    ScanResponse.Builder response = ScanResponse.newBuilder();
    long bytes = 0;
    long bytesMax = pageBytesMax();
    for (KeyValue kv : merged) {
      bytes += CodedOutputStream.computeMessageSize(ScanResponse.KVS_FIELD_NUMBER, kv);
      if (response.getKvsCount() == limit
          || bytes > bytesMax
          || (cutoff != null && compareBytes(kv.getKey(), cutoff) > 0)) {
        break;
      }
      response.addKvs(kv);
    }
    boolean more = response.getKvsCount() < merged.size() || cutoff != null;
    response.setMore(more);
    if (more) {
      Invariants.check(response.getKvsCount() > 0, "a scan page with more to come is empty");
      ByteString last = response.getKvs(response.getKvsCount() - 1).getKey();
      response.setNextKey(last.concat(ByteString.copyFrom(new byte[] {0})));
    }
    return response.setHeader(router.mergedHeader()).build();
  }

  /**
   * Bytes of pairs one page may carry: the response limit less room for the header and next key.
   * The relation of the limits guarantees the largest pair fits, so a page is never empty.
   */
  private long pageBytesMax() {
    return validation.limits().responseSizeBytesMax()
        - validation.limits().keySizeBytesMax()
        - PAGE_ROOM_BYTES;
  }

  private ScanResponse scanPartition(
      int partition, ScanRange range, int limit, boolean linearizable, ScanRequest page) {
    return router.route(
        partition,
        linearizable,
        deadline -> {
          long term = router.readBarrier(partition, linearizable, deadline);
          ScanResponse.Builder response =
              ScanResponse.newBuilder().setHeader(router.header(partition, term));
          long bytes = 0;
          for (io.ringkv.storage.KeyValue pair :
              driver.store(partition).scan(range, limit, pageBytesMax(), PAIR_OVERHEAD_BYTES)) {
            KeyValue.Builder kv =
                KeyValue.newBuilder()
                    .setKey(ByteString.copyFrom(pair.key()))
                    .setCreateRevision(pair.value().createRevision())
                    .setModRevision(pair.value().modRevision())
                    .setVersion(pair.value().version());
            if (!page.getKeysOnly()) {
              kv.setValue(ByteString.copyFrom(pair.value().value()));
            }
            bytes +=
                CodedOutputStream.computeMessageSize(ScanResponse.KVS_FIELD_NUMBER, kv.build());
            if (bytes > pageBytesMax()) {
              return response.setMore(true).build(); // cut by bytes: the merge stops here
            }
            response.addKvs(kv);
          }
          return response.build();
        },
        stub -> stub.scan(page),
        true,
        partition);
  }

  private static int compareBytes(ByteString a, ByteString b) {
    return ByteString.unsignedLexicographicalComparator().compare(a, b);
  }
}
