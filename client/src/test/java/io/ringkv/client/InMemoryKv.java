package io.ringkv.client;

import com.google.protobuf.ByteString;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.ringkv.proto.v1.Compare;
import io.ringkv.proto.v1.DeleteRequest;
import io.ringkv.proto.v1.DeleteResponse;
import io.ringkv.proto.v1.GetRequest;
import io.ringkv.proto.v1.GetResponse;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.proto.v1.KeyValue;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.proto.v1.PutResponse;
import io.ringkv.proto.v1.RequestOp;
import io.ringkv.proto.v1.ResponseOp;
import io.ringkv.proto.v1.ScanRequest;
import io.ringkv.proto.v1.ScanResponse;
import io.ringkv.proto.v1.TxnRequest;
import io.ringkv.proto.v1.TxnResponse;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A single-process stand-in for the KV service on a real gRPC port, for client and CLI tests while
 * the server's KV service does not exist: one ordered map, one revision counter, the API's
 * semantics for found/version/revisions, prefix and range scans with pages, VALUE and VERSION
 * compares. It has no partitions and no sessions; it records every Scan request it served.
 */
public final class InMemoryKv extends KVGrpc.KVImplBase implements AutoCloseable {
  private static final int DEFAULT_PAGE_SIZE = 100;

  private final NavigableMap<ByteString, KeyValue> data =
      new TreeMap<>(ByteString.unsignedLexicographicalComparator());
  private long revision;
  final List<ScanRequest> scans = new CopyOnWriteArrayList<>();
  private Server server;

  /** Starts serving on 127.0.0.1 and an ephemeral port; returns host:port. */
  public String start() throws IOException {
    return start("127.0.0.1");
  }

  /** Starts serving on {@code host} (a test's own loopback address) and an ephemeral port. */
  public String start(String host) throws IOException {
    server =
        NettyServerBuilder.forAddress(new InetSocketAddress(host, 0))
            .addService(this)
            .build()
            .start();
    return host + ":" + server.getPort();
  }

  @Override
  public void close() {
    server.shutdownNow();
  }

  @Override
  public synchronized void get(GetRequest request, StreamObserver<GetResponse> observer) {
    reply(observer, doGet(request));
  }

  @Override
  public synchronized void put(PutRequest request, StreamObserver<PutResponse> observer) {
    if (request.getKey().isEmpty()) {
      observer.onError(Status.INVALID_ARGUMENT.withDescription("empty key").asRuntimeException());
      return;
    }
    revision++;
    reply(observer, doPut(request));
  }

  @Override
  public synchronized void delete(DeleteRequest request, StreamObserver<DeleteResponse> observer) {
    revision++;
    reply(observer, doDelete(request));
  }

  @Override
  public synchronized void txn(TxnRequest request, StreamObserver<TxnResponse> observer) {
    boolean succeeded = request.getCompareList().stream().allMatch(this::holds);
    revision++;
    TxnResponse.Builder response = TxnResponse.newBuilder().setSucceeded(succeeded);
    for (RequestOp op : succeeded ? request.getSuccessList() : request.getFailureList()) {
      ResponseOp.Builder result = ResponseOp.newBuilder();
      switch (op.getOpCase()) {
        case GET -> result.setGet(doGet(op.getGet()));
        case PUT -> result.setPut(doPut(op.getPut()));
        case DELETE -> result.setDelete(doDelete(op.getDelete()));
        case OP_NOT_SET -> throw new IllegalArgumentException("empty op");
      }
      response.addResponses(result);
    }
    reply(observer, response.setRevision(revision).build());
  }

  @Override
  public synchronized void scan(ScanRequest request, StreamObserver<ScanResponse> observer) {
    scans.add(request);
    ByteString from;
    ByteString to; // exclusive, empty = no bound
    if (!request.getPrefix().isEmpty()) {
      from = request.getPrefix();
      to = ByteString.copyFrom(ScanQuery.prefixEnd(request.getPrefix().toByteArray()));
    } else {
      from = request.getStartKey();
      to = request.getEndKey();
    }
    NavigableMap<ByteString, KeyValue> range =
        to.isEmpty() ? data.tailMap(from, true) : data.subMap(from, true, to, false);
    int limit = request.getLimit() == 0 ? DEFAULT_PAGE_SIZE : request.getLimit();
    ScanResponse.Builder response = ScanResponse.newBuilder();
    for (Map.Entry<ByteString, KeyValue> entry : range.entrySet()) {
      if (response.getKvsCount() == limit) {
        response.setMore(true).setNextKey(entry.getKey());
        break;
      }
      KeyValue kv = entry.getValue();
      response.addKvs(request.getKeysOnly() ? kv.toBuilder().clearValue().build() : kv);
    }
    reply(observer, response.build());
  }

  private GetResponse doGet(GetRequest request) {
    KeyValue kv = data.get(request.getKey());
    if (kv == null) {
      return GetResponse.getDefaultInstance();
    }
    return GetResponse.newBuilder()
        .setFound(true)
        .setValue(kv.getValue())
        .setCreateRevision(kv.getCreateRevision())
        .setModRevision(kv.getModRevision())
        .setVersion(kv.getVersion())
        .build();
  }

  private PutResponse doPut(PutRequest request) {
    KeyValue old = data.get(request.getKey());
    data.put(
        request.getKey(),
        KeyValue.newBuilder()
            .setKey(request.getKey())
            .setValue(request.getValue())
            .setCreateRevision(old == null ? revision : old.getCreateRevision())
            .setModRevision(revision)
            .setVersion(old == null ? 1 : old.getVersion() + 1)
            .build());
    PutResponse.Builder response = PutResponse.newBuilder().setRevision(revision);
    if (old != null && request.getPrevKv()) {
      response.setPrevFound(true).setPrev(old);
    }
    return response.build();
  }

  private DeleteResponse doDelete(DeleteRequest request) {
    KeyValue old = data.remove(request.getKey());
    DeleteResponse.Builder response =
        DeleteResponse.newBuilder().setRevision(revision).setDeleted(old != null);
    if (old != null && request.getPrevKv()) {
      response.setPrev(old);
    }
    return response.build();
  }

  private boolean holds(Compare compare) {
    KeyValue kv = data.get(compare.getKey());
    if (compare.getResult() != Compare.Result.EQUAL) {
      throw new IllegalArgumentException("only EQUAL compares are modelled");
    }
    return switch (compare.getTarget()) {
      case VALUE -> kv != null && kv.getValue().equals(compare.getValue());
      case VERSION -> (kv == null ? 0 : kv.getVersion()) == compare.getVersion();
      case MOD_REVISION -> (kv == null ? 0 : kv.getModRevision()) == compare.getModRevision();
      default -> throw new IllegalArgumentException("compare target not modelled");
    };
  }

  private static <T> void reply(StreamObserver<T> observer, T response) {
    observer.onNext(response);
    observer.onCompleted();
  }
}
