package io.ringkv.server;

import com.google.protobuf.ByteString;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.ringkv.proto.v1.KeyValue;
import io.ringkv.proto.v1.ScanRequest;
import io.ringkv.proto.v1.ScanResponse;
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
 * right after its last key. A page forwarded by another node (marked with its partition) is served
 * for that partition alone. Runs on the call executor; never on the transport thread.
 */
final class ScanFanOut {
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
    List<KeyValue> merged = new ArrayList<>();
    for (CompletableFuture<ScanResponse> part : parts) {
      try {
        merged.addAll(part.join().getKvsList());
      } catch (CompletionException e) {
        parts.forEach(other -> other.cancel(false));
        if (e.getCause() instanceof StatusRuntimeException status) {
          throw status;
        }
        throw Status.INTERNAL.withDescription(String.valueOf(e.getCause())).asRuntimeException();
      }
    }
    merged.sort((a, b) -> compareBytes(a.getKey(), b.getKey()));
    ScanResponse.Builder response = ScanResponse.newBuilder();
    boolean more = merged.size() > limit;
    List<KeyValue> kvs = more ? merged.subList(0, limit) : merged;
    response.addAllKvs(kvs).setMore(more);
    if (more) {
      response.setNextKey(kvs.getLast().getKey().concat(ByteString.copyFrom(new byte[] {0})));
    }
    response.setHeader(router.mergedHeader());
    return response.build();
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
          for (io.ringkv.storage.KeyValue pair : driver.store(partition).scan(range, limit)) {
            KeyValue.Builder kv =
                KeyValue.newBuilder()
                    .setKey(ByteString.copyFrom(pair.key()))
                    .setCreateRevision(pair.value().createRevision())
                    .setModRevision(pair.value().modRevision())
                    .setVersion(pair.value().version());
            if (!page.getKeysOnly()) {
              kv.setValue(ByteString.copyFrom(pair.value().value()));
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
