package io.ringkv.bench.load;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.ringkv.proto.v1.ClusterGrpc;
import io.ringkv.proto.v1.GetRequest;
import io.ringkv.proto.v1.GetResponse;
import io.ringkv.proto.v1.KVGrpc;
import io.ringkv.proto.v1.Member;
import io.ringkv.proto.v1.MembersRequest;
import io.ringkv.proto.v1.PartitionInfo;
import io.ringkv.proto.v1.PartitionsRequest;
import io.ringkv.proto.v1.PutRequest;
import io.ringkv.proto.v1.PutResponse;
import io.ringkv.proto.v1.ReadConsistency;
import io.ringkv.routing.PartitionLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Histogram;

/**
 * A small closed-loop load generator for a running ringkv cluster, over the raw gRPC stubs: keeps
 * {@code --inflight} requests outstanding, each sent straight to its partition's leader (learned
 * once from Cluster.Partitions; any node would forward), and reports throughput and latency
 * percentiles (HdrHistogram). Bounded by a request count; the key choice is seeded (printed).
 *
 * <pre>
 * java -cp bench/target/benchmarks.jar io.ringkv.bench.load.LoadTool \
 *   --targets 127.0.0.11:7379,127.0.0.12:7379,127.0.0.13:7379 --op put --inflight 64 \
 *   --requests 20000 --value-bytes 100 --keys 10000
 * </pre>
 */
public final class LoadTool {
  private LoadTool() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> options = parse(args);
    List<String> targets = List.of(options.getOrDefault("targets", "127.0.0.1:7379").split(","));
    String op = options.getOrDefault("op", "put");
    int inflight = Integer.parseInt(options.getOrDefault("inflight", "64"));
    int requests = Integer.parseInt(options.getOrDefault("requests", "20000"));
    int valueBytes = Integer.parseInt(options.getOrDefault("value-bytes", "100"));
    int keys = Integer.parseInt(options.getOrDefault("keys", "10000"));
    long seed = Long.parseLong(options.getOrDefault("seed", Long.toString(System.nanoTime())));
    if (!op.equals("put") && !op.equals("get")) {
      throw new IllegalArgumentException("--op must be put or get");
    }
    System.out.printf(
        "load: op=%s inflight=%d requests=%d value-bytes=%d keys=%d seed=%d%n",
        op, inflight, requests, valueBytes, keys, seed);

    Map<String, ManagedChannel> channels = new HashMap<>();
    for (String target : targets) {
      channels.put(target, channel(target));
    }
    ManagedChannel first = channels.get(targets.get(0));
    Map<Long, String> addresses = new HashMap<>();
    for (Member member :
        ClusterGrpc.newBlockingStub(first)
            .withDeadlineAfter(10, TimeUnit.SECONDS)
            .members(MembersRequest.getDefaultInstance())
            .getMembersList()) {
      addresses.put(member.getNodeId(), member.getClientAddress());
    }
    List<PartitionInfo> partitions =
        ClusterGrpc.newBlockingStub(first)
            .withDeadlineAfter(10, TimeUnit.SECONDS)
            .partitions(PartitionsRequest.getDefaultInstance())
            .getPartitionsList();
    PartitionLayout layout = PartitionLayout.of(partitions.size());
    List<KVGrpc.KVStub> byPartition = new ArrayList<>();
    for (PartitionInfo partition : partitions) {
      String address = addresses.get(partition.getLeaderNodeId());
      ManagedChannel channel =
          address == null ? first : channels.computeIfAbsent(address, LoadTool::channel);
      byPartition.add(KVGrpc.newStub(channel));
    }

    byte[] value = new byte[valueBytes];
    new SplittableRandom(seed).nextBytes(value);
    ByteString valueBytesString = ByteString.copyFrom(value);
    if (op.equals("get")) {
      System.out.println("load: preloading " + keys + " keys");
      run(
          byPartition,
          layout,
          keys,
          inflight,
          new SplittableRandom(seed),
          true,
          "put",
          valueBytesString,
          keys);
    }
    Result result =
        run(
            byPartition,
            layout,
            requests,
            inflight,
            new SplittableRandom(seed + 1),
            false,
            op,
            valueBytesString,
            keys);
    Histogram latency = result.latency;
    System.out.printf(
        "load: %s inflight=%d ok=%d errors=%d seconds=%.2f throughput=%.0f/s p50=%.1fms p99=%.1fms"
            + " p999=%.1fms max=%.1fms%n",
        op,
        inflight,
        latency.getTotalCount(),
        result.errors,
        result.seconds,
        latency.getTotalCount() / result.seconds,
        latency.getValueAtPercentile(50) / 1000.0,
        latency.getValueAtPercentile(99) / 1000.0,
        latency.getValueAtPercentile(99.9) / 1000.0,
        latency.getMaxValue() / 1000.0);
    for (ManagedChannel channel : channels.values()) {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  private record Result(Histogram latency, long errors, double seconds) {}

  private static Result run(
      List<KVGrpc.KVStub> byPartition,
      PartitionLayout layout,
      int count,
      int inflight,
      SplittableRandom random,
      boolean sequentialKeys,
      String op,
      ByteString value,
      int keys)
      throws InterruptedException {
    Histogram latency = new Histogram(TimeUnit.SECONDS.toMicros(60), 3);
    AtomicLong errors = new AtomicLong();
    Semaphore slots = new Semaphore(inflight);
    long started = System.nanoTime();
    for (int i = 0; i < count; i++) {
      slots.acquire();
      int keyIndex = sequentialKeys ? i : random.nextInt(keys);
      ByteString key = ByteString.copyFrom("load-" + keyIndex, StandardCharsets.UTF_8);
      KVGrpc.KVStub stub =
          byPartition
              .get(layout.partitionOfKey(key.toByteArray()))
              .withDeadlineAfter(30, TimeUnit.SECONDS);
      long sent = System.nanoTime();
      if (op.equals("put")) {
        stub.put(
            PutRequest.newBuilder().setKey(key).setValue(value).build(),
            new Done<PutResponse>(latency, errors, slots, sent));
      } else {
        stub.get(
            GetRequest.newBuilder()
                .setKey(key)
                .setConsistency(ReadConsistency.LINEARIZABLE)
                .build(),
            new Done<GetResponse>(latency, errors, slots, sent));
      }
    }
    slots.acquire(inflight);
    double seconds = (System.nanoTime() - started) / 1e9;
    return new Result(latency, errors.get(), seconds);
  }

  private static final class Done<T> implements StreamObserver<T> {
    private final Histogram latency;
    private final AtomicLong errors;
    private final Semaphore slots;
    private final long sentNanos;

    Done(Histogram latency, AtomicLong errors, Semaphore slots, long sentNanos) {
      this.latency = latency;
      this.errors = errors;
      this.slots = slots;
      this.sentNanos = sentNanos;
    }

    @Override
    public void onNext(T response) {
      long micros = (System.nanoTime() - sentNanos) / 1000;
      synchronized (latency) {
        latency.recordValue(Math.min(micros, latency.getHighestTrackableValue()));
      }
    }

    @Override
    public void onError(Throwable error) {
      if (errors.incrementAndGet() <= 5) {
        System.err.println("load: error " + error);
      }
      slots.release();
    }

    @Override
    public void onCompleted() {
      slots.release();
    }
  }

  private static ManagedChannel channel(String hostPort) {
    int colon = hostPort.lastIndexOf(':');
    return NettyChannelBuilder.forAddress(
            hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1)))
        .usePlaintext()
        .directExecutor() // the response observers only record and release a slot
        .build();
  }

  /** {@code --name value} pairs into a map; shared with the side-by-side drivers. */
  public static Map<String, String> parse(String[] args) {
    Map<String, String> options = new HashMap<>();
    for (int i = 0; i < args.length; i++) {
      if (!args[i].startsWith("--") || i + 1 >= args.length) {
        throw new IllegalArgumentException("expected --name value pairs, got " + args[i]);
      }
      options.put(args[i].substring(2), args[++i]);
    }
    return options;
  }
}
