package io.ringkv.bench.compare;

import com.google.protobuf.ByteString;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.ringkv.bench.load.LoadTool;
import io.ringkv.proto.v1.WatchRequest;
import io.ringkv.proto.v1.WatchResponse;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Heap one ringkv node spends per idle watch: the node's heap after a forced full GC is read before
 * {@code --watches} watches are opened (each on a key of its own, start NOW, spread over {@code
 * --channels} connections), again once every one of them has answered its first response, and once
 * more after they are cancelled. The difference per watch is the figure; it includes the node's
 * gRPC stream state, which an idle watch really costs. The GC is forced with {@code jcmd <pid>
 * GC.run} (so this runs on the node's machine, as the node's user) and the heap is read from the
 * node's metrics endpoint ({@code jvm_memory_used_bytes}, area heap, summed over pools); each
 * reading is the smallest of {@link #HEAP_READINGS} GC-then-read rounds, so garbage made between a
 * GC and its reading (Raft ticks, metrics) counts as little as it can.
 */
public final class IdleWatchProbe {
  /** Largest number of watches one run may open. */
  static final int WATCHES_MAX = 200_000;

  /** Largest number of client connections one run may open. */
  static final int CHANNELS_MAX = 64;

  /** GC-then-read rounds per heap reading; the smallest reading is kept. */
  static final int HEAP_READINGS = 3;

  /** Classes listed as still grown after the watches were cancelled. */
  static final int RESIDUAL_CLASSES = 8;

  /** How long jcmd may take for one GC. */
  static final long JCMD_TIMEOUT_SECONDS = 60;

  /** How long one metrics request may take. */
  static final long METRICS_TIMEOUT_SECONDS = 10;

  /** One class's row of jcmd's GC.class_histogram: number, instances, bytes, class name. */
  private static final Pattern HISTOGRAM_LINE =
      Pattern.compile("^\\s*\\d+:\\s+(\\d+)\\s+(\\d+)\\s+(\\S+)");

  private IdleWatchProbe() {}

  /** The node's heap in use: the sum of {@code jvm_memory_used_bytes} over the heap's pools. */
  static long heapUsedBytes(String prometheusText) {
    return (long) metricSum(prometheusText, "jvm_memory_used_bytes", "area=\"heap\"");
  }

  /** The sum of every sample of {@code name} whose labels contain {@code labels}. */
  static double metricSum(String prometheusText, String name, String labels) {
    double sum = 0;
    boolean found = false;
    for (String line : prometheusText.split("\n")) {
      boolean named = line.startsWith(name + "{") || line.startsWith(name + " ");
      if (named && line.contains(labels)) {
        sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
        found = true;
      }
    }
    if (!found) {
      throw new IllegalArgumentException("no " + name + " with " + labels + " in the metrics");
    }
    return sum;
  }

  /** Class name to {instances, bytes} from jcmd's GC.class_histogram output. */
  static Map<String, long[]> classHistogram(String jcmdOutput) {
    Map<String, long[]> classes = new HashMap<>();
    for (String line : jcmdOutput.split("\n")) {
      Matcher m = HISTOGRAM_LINE.matcher(line);
      if (m.find()) {
        classes.put(
            m.group(3), new long[] {Long.parseLong(m.group(1)), Long.parseLong(m.group(2))});
      }
    }
    return classes;
  }

  /**
   * The classes whose live bytes grew most from {@code before} to {@code after}, largest first,
   * with the growth per watch: where an idle watch's bytes go.
   */
  static List<String> topGrowth(
      Map<String, long[]> before, Map<String, long[]> after, int count, long watches) {
    return after.entrySet().stream()
        .map(e -> {
          long[] was = before.getOrDefault(e.getKey(), new long[2]);
          return Map.entry(
              e.getKey(), new long[] {e.getValue()[0] - was[0], e.getValue()[1] - was[1]});
        })
        .filter(e -> e.getValue()[1] > 0)
        .sorted((x, y) -> Long.compare(y.getValue()[1], x.getValue()[1]))
        .limit(count)
        .map(e ->
            String.format(
                Locale.ROOT,
                "%,12d bytes %,9d objects %7.1f bytes/watch  %s",
                e.getValue()[1],
                e.getValue()[0],
                e.getValue()[1] / (double) watches,
                e.getKey()))
        .toList();
  }

  /**
   * Growth per watch by whose classes grew: ringkv's, gRPC's, Netty's (shaded in gRPC), the JDK's,
   * and arrays, whose owner a class histogram does not tell.
   */
  static String growthByOwner(Map<String, long[]> before, Map<String, long[]> after, long watches) {
    Map<String, Long> owners = new java.util.LinkedHashMap<>();
    for (String owner : List.of("ringkv", "grpc", "netty", "jdk", "arrays", "other")) {
      owners.put(owner, 0L);
    }
    after.forEach((name, counts) ->
        owners.merge(
            owner(name), counts[1] - before.getOrDefault(name, new long[2])[1], Long::sum));
    StringBuilder line = new StringBuilder();
    owners.forEach((owner, bytes) ->
        line.append(line.isEmpty() ? "" : ", ")
            .append(String.format(Locale.ROOT, "%s %.0f", owner, bytes / (double) watches)));
    return line.toString();
  }

  private static String owner(String className) {
    if (className.startsWith("io.ringkv.")) {
      return "ringkv";
    } else if (className.startsWith("io.grpc.netty.shaded.io.netty.")) {
      return "netty";
    } else if (className.startsWith("io.grpc.")) {
      return "grpc";
    } else if (className.startsWith("[")) {
      return "arrays";
    } else if (className.startsWith("java.") || className.startsWith("jdk.")) {
      return "jdk";
    }
    return "other";
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> options = LoadTool.parse(args);
    String endpoint = options.getOrDefault("endpoint", "127.0.0.81:7379");
    String host = endpoint.substring(0, endpoint.lastIndexOf(':'));
    String metrics = options.getOrDefault("metrics", "http://" + host + ":7390/metrics");
    long nodePid = Long.parseLong(required(options, "node-pid"));
    int watches = Integer.parseInt(options.getOrDefault("watches", "10000"));
    int channelCount = Integer.parseInt(options.getOrDefault("channels", "8"));
    long timeoutSeconds = Long.parseLong(options.getOrDefault("timeout", "120"));
    long seed = Long.parseLong(options.getOrDefault("seed", Long.toString(System.nanoTime())));
    if (watches < 1 || watches > WATCHES_MAX || channelCount < 1 || channelCount > CHANNELS_MAX) {
      throw new IllegalArgumentException(
          "--watches must be 1.." + WATCHES_MAX + ", --channels 1.." + CHANNELS_MAX);
    }
    String prefix = "watchidle/" + Long.toHexString(new SplittableRandom(seed).nextLong()) + "/";
    System.out.printf(
        "watch-idle: endpoint=%s node-pid=%d watches=%d channels=%d seed=%d prefix=%s%n",
        endpoint, nodePid, watches, channelCount, seed, prefix);
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    Heap heap = new Heap(http, URI.create(metrics), nodePid);
    int classCount = Integer.parseInt(options.getOrDefault("classes", "15"));
    Map<String, long[]> classesBefore = classCount > 0 ? heap.classes() : Map.of();
    long before = heap.afterGc();
    double activeBefore = heap.active();
    System.out.printf("watch-idle: heap before %,d bytes%n", before);

    List<ManagedChannel> channels = new ArrayList<>();
    List<Context.CancellableContext> contexts = new ArrayList<>();
    AtomicLong created = new AtomicLong();
    // Streams refused before their first response, and streams that ended after it.
    AtomicLong failed = new AtomicLong();
    AtomicLong ended = new AtomicLong();
    AtomicReference<Throwable> firstFailure = new AtomicReference<>();
    try {
      for (int i = 0; i < channelCount; i++) {
        channels.add(WatchTarget.RingKv.channel(endpoint));
      }
      long start = System.nanoTime();
      for (int i = 0; i < watches; i++) {
        contexts.add(
            open(channels.get(i % channelCount), prefix + i, created, failed, ended, firstFailure));
      }
      long deadline = start + TimeUnit.SECONDS.toNanos(timeoutSeconds);
      while (created.get() + failed.get() < watches && System.nanoTime() < deadline) {
        TimeUnit.MILLISECONDS.sleep(20); // polling counters the transport threads advance
      }
      System.out.printf(
          "watch-idle: %d created, %d failed (first: %s) in %.1f s%n",
          created.get(), failed.get(), firstFailure.get(), (System.nanoTime() - start) / 1e9);
      long open = heap.afterGc();
      long stillOpen = created.get() - ended.get();
      System.out.printf("watch-idle: heap with %d open watches %,d bytes%n", stillOpen, open);
      if (classCount > 0 && stillOpen > 0) {
        Map<String, long[]> classesOpen = heap.classes();
        System.out.println(
            "watch-idle: bytes per watch by owner: "
                + growthByOwner(classesBefore, classesOpen, stillOpen));
        System.out.println("watch-idle: classes that grew most (jcmd GC.class_histogram):");
        topGrowth(classesBefore, classesOpen, classCount, stillOpen)
            .forEach(line -> System.out.println("  " + line));
      }
      System.out.printf(
          "watch-idle: the node counts %.0f open watches (ringkv_watch_active)%n", heap.active());
      contexts.forEach(c -> c.cancel(null));
      // The node drops a stream when the cancellation reaches it: wait for that before measuring.
      long cancelDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
      while (heap.active() > activeBefore && System.nanoTime() < cancelDeadline) {
        TimeUnit.MILLISECONDS.sleep(100); // polling the node's gauge
      }
      long after = heap.afterGc();
      System.out.printf("watch-idle: heap after cancelling %,d bytes%n", after);
      if (classCount > 0 && stillOpen > 0) {
        System.out.println("watch-idle: classes still grown after cancelling, from before:");
        topGrowth(classesBefore, heap.classes(), RESIDUAL_CLASSES, stillOpen)
            .forEach(line -> System.out.println("  " + line));
      }
      if (stillOpen > 0) {
        System.out.printf(
            "watch-idle: bytes-per-idle-watch=%.0f (%d watches on one node; heap after cancelling"
                + " is %+,d bytes from before)%n",
            (open - before) / (double) stillOpen, stillOpen, after - before);
      }
    } finally {
      contexts.forEach(c -> c.cancel(null));
      channels.forEach(WatchTarget.RingKv::closeChannel);
    }
  }

  private static Context.CancellableContext open(
      ManagedChannel channel,
      String key,
      AtomicLong created,
      AtomicLong failed,
      AtomicLong ended,
      AtomicReference<Throwable> firstFailure) {
    WatchRequest request =
        WatchRequest.newBuilder()
            .setKey(ByteString.copyFrom(key, StandardCharsets.UTF_8))
            .setStart(WatchRequest.Start.NOW)
            .build();
    return WatchTarget.RingKv.open(
        channel,
        request,
        new StreamObserver<>() {
          private boolean first = true;

          @Override
          public void onNext(WatchResponse response) {
            if (first) {
              first = false;
              created.incrementAndGet();
            }
          }

          @Override
          public void onError(Throwable failure) {
            end(failure);
          }

          @Override
          public void onCompleted() {
            end(new IllegalStateException("completed by the node"));
          }

          private void end(Throwable failure) {
            if (Status.fromThrowable(failure).getCode() == Status.Code.CANCELLED) {
              return; // cancelled by this probe
            }
            (first ? failed : ended).incrementAndGet();
            firstFailure.compareAndSet(null, failure);
          }
        });
  }

  private static String required(Map<String, String> options, String name) {
    String value = options.get(name);
    if (value == null) {
      throw new IllegalArgumentException("--" + name + " is required");
    }
    return value;
  }

  /** Forces a full GC in the node and reads its heap from the metrics endpoint. */
  private record Heap(HttpClient http, URI metrics, long pid) {
    long afterGc() throws IOException, InterruptedException {
      long smallest = Long.MAX_VALUE;
      for (int i = 0; i < HEAP_READINGS; i++) {
        gc();
        smallest = Math.min(smallest, heapUsedBytes(scrape()));
      }
      return smallest;
    }

    /** Watch streams the node has open. */
    double active() throws IOException, InterruptedException {
      return metricSum(scrape(), "ringkv_watch_active", "");
    }

    private String scrape() throws IOException, InterruptedException {
      HttpResponse<String> response =
          http.send(
              HttpRequest.newBuilder(metrics)
                  .timeout(Duration.ofSeconds(METRICS_TIMEOUT_SECONDS))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      if (response.statusCode() != 200) {
        throw new IOException(metrics + " answered " + response.statusCode());
      }
      return response.body();
    }

    private void gc() throws IOException, InterruptedException {
      jcmd("GC.run");
    }

    /** Live objects per class (jcmd GC.class_histogram, which collects first). */
    Map<String, long[]> classes() throws IOException, InterruptedException {
      return classHistogram(jcmd("GC.class_histogram"));
    }

    private String jcmd(String command) throws IOException, InterruptedException {
      Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
      Path output = Files.createTempFile("ringkv-jcmd", ".txt");
      try {
        Process process =
            new ProcessBuilder(jcmd.toString(), Long.toString(pid), command)
                .redirectErrorStream(true)
                .redirectOutput(output.toFile())
                .start();
        if (!process.waitFor(JCMD_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
          process.destroyForcibly();
          throw new IOException(
              "jcmd " + pid + " " + command + " took more than " + JCMD_TIMEOUT_SECONDS + " s");
        }
        if (process.exitValue() != 0) {
          throw new IOException(
              "jcmd " + pid + " " + command + " failed with exit code " + process.exitValue());
        }
        return Files.readString(output);
      } finally {
        Files.deleteIfExists(output);
      }
    }
  }
}
