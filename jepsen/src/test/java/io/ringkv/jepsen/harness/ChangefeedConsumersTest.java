package io.ringkv.jepsen.harness;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.ringkv.jepsen.checker.ChangefeedChecker;
import io.ringkv.jepsen.checker.CheckLimits;
import io.ringkv.jepsen.checker.Verdict;
import io.ringkv.jepsen.harness.client.KvClientAdapter;
import io.ringkv.jepsen.harness.client.Outcome;
import io.ringkv.jepsen.harness.cluster.ClusterSpec;
import io.ringkv.jepsen.history.HistoryReader;
import io.ringkv.jepsen.history.Keyword;
import io.ringkv.jepsen.history.Op;
import io.ringkv.jepsen.history.OpType;
import io.ringkv.proto.v1.Event;
import io.ringkv.proto.v1.WatchCursor;
import io.ringkv.proto.v1.WatchGrpc;
import io.ringkv.proto.v1.WatchRequest;
import io.ringkv.proto.v1.WatchResponse;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves the changefeed consumers against an in-process Watch server on 127.0.0.44 that keeps one
 * partition's changes in memory: consumers that drop their streams every 0.3-0.6 s and resume from
 * their last processed cursor record a history the checker finds valid, with several streams and
 * cancels per consumer, and stop by themselves once drained; a server that resumes one revision
 * early (re-sends the event at the cursor) makes the same run invalid with duplicates, and one that
 * skips an event makes it invalid with that write missing. The writer's seed is printed.
 */
class ChangefeedConsumersTest {
  private static final String ADDRESS = "127.0.0.44";
  private static final int WRITES = 150;

  @TempDir Path dir;

  @Test
  @Timeout(60)
  void consumersResumingFromTheirCursorsRecordAValidHistory() throws Exception {
    CheckOutcome check = run(Fault.NONE, 21);
    assertThat(check.verdict()).as(check.text()).isEqualTo(Verdict.VALID);
    assertThat((Long) check.edn().get(Keyword.of("stream-count"))).isGreaterThan(4);
    assertThat((Long) check.edn().get(Keyword.of("event-count"))).isEqualTo(2L * WRITES);
  }

  @Test
  @Timeout(60)
  void serverResumingEarlyIsCaughtAsDuplicates() throws Exception {
    CheckOutcome check = run(Fault.RESUME_EARLY, 22);
    assertThat(check.verdict()).isEqualTo(Verdict.INVALID);
    assertThat(check.text()).contains(":duplicate: consumer");
  }

  @Test
  @Timeout(60)
  void serverSkippingAnEventIsCaughtAsAMissingWrite() throws Exception {
    CheckOutcome check = run(Fault.SKIP_ONE, 23);
    assertThat(check.verdict()).isEqualTo(Verdict.INVALID);
    assertThat(check.text()).contains(":missing: consumer");
  }

  private enum Fault {
    NONE,
    RESUME_EARLY,
    SKIP_ONE
  }

  private CheckOutcome run(Fault fault, long seed) throws Exception {
    System.out.println("ChangefeedConsumersTest seed " + seed + " fault " + fault);
    FakeWatch watch = new FakeWatch(fault);
    Server server =
        NettyServerBuilder.forAddress(new InetSocketAddress(ADDRESS, ClusterSpec.CLIENT_PORT))
            .addService(watch)
            .build()
            .start();
    Path file = dir.resolve(fault + ".edn");
    List<Op> history;
    ChangefeedWorkload workload = new ChangefeedWorkload(4, 2, Duration.ofMillis(600));
    try (HistoryRecorder recorder = new HistoryRecorder(file, System::nanoTime)) {
      ClusterSpec cluster =
          new ClusterSpec(
              dir,
              dir,
              1,
              43,
              1,
              1,
              "fake",
              Duration.ofSeconds(5),
              List.of(),
              0,
              ClusterSpec.ADDRESS_PREFIX_DEFAULT);
      List<String> errors = java.util.Collections.synchronizedList(new ArrayList<>());
      try (Workload.Background consumers =
          workload.background(
              new Workload.BackgroundContext(
                  recorder, cluster, seed, Duration.ofSeconds(2), errors::add))) {
        consumers.start();
        Random random = new Random(seed);
        for (int i = 0; i < WRITES; i++) {
          Invocation write = workload.next(random);
          recorder.invoke(0L, write.f(), write.value());
          Outcome outcome = workload.apply(watch, write);
          recorder.complete(0L, outcome.type(), write.f(), outcome.value(), null);
          TimeUnit.MILLISECONDS.sleep(10); // pacing the writer across several streams
        }
        consumers.drain();
      }
      assertThat(errors).isEmpty();
      history = recorder.ops();
    } finally {
      watch.stop();
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    assertThat(HistoryReader.read(file)).isEqualTo(history);
    assertThat(history)
        .filteredOn(op -> ChangefeedChecker.CANCEL.equals(op.f()) && op.type() == OpType.OK)
        .hasSizeGreaterThan(2);
    return workload.check(history, CheckLimits.defaults()).getFirst();
  }

  /**
   * One partition's changes in memory, served to every Watch from its cursor (one revision early,
   * or skipping the fifth change, when told to); also the KV the writer puts through.
   */
  private static final class FakeWatch extends WatchGrpc.WatchImplBase implements KvClientAdapter {
    private final Fault fault;
    private final List<Event> log = new ArrayList<>();
    private boolean stopped;

    FakeWatch(Fault fault) {
      this.fault = fault;
    }

    @Override
    public Outcome write(String key, String value) {
      synchronized (log) {
        log.add(
            Event.newBuilder()
                .setPartition(0)
                .setRevision(log.size() + 1)
                .setKey(ByteString.copyFromUtf8(key))
                .setValue(ByteString.copyFromUtf8(value))
                .build());
        log.notifyAll();
      }
      return Outcome.ok(null);
    }

    void stop() {
      synchronized (log) {
        stopped = true;
        log.notifyAll();
      }
    }

    @Override
    public void watch(WatchRequest request, StreamObserver<WatchResponse> responses) {
      ServerCallStreamObserver<WatchResponse> call =
          (ServerCallStreamObserver<WatchResponse>) responses;
      long after = request.getCursor().getRevisionsOrDefault(0, 0L);
      long start = fault == Fault.RESUME_EARLY && after > 0 ? after - 1 : after;
      Thread.ofPlatform().start(() -> serve(call, start));
    }

    private void serve(ServerCallStreamObserver<WatchResponse> call, long start) {
      long cursor = start;
      try {
        call.onNext(WatchResponse.newBuilder().setCreated(true).setCursor(cursor(cursor)).build());
        while (!call.isCancelled()) {
          List<Event> batch;
          synchronized (log) {
            while (log.size() <= cursor && !stopped && !call.isCancelled()) {
              log.wait(50); // woken by a write; the bound re-checks cancellation
            }
            if (stopped) {
              return;
            }
            batch = new ArrayList<>(log.subList((int) cursor, log.size()));
          }
          WatchResponse.Builder response = WatchResponse.newBuilder();
          for (Event event : batch) {
            if (!(fault == Fault.SKIP_ONE && event.getRevision() == 5)) {
              response.addEvents(event);
            }
          }
          cursor += batch.size();
          call.onNext(response.setCursor(cursor(cursor)).build());
        }
      } catch (InterruptedException | RuntimeException e) {
        // the consumer went away mid-response: nothing to do
      }
    }

    private static WatchCursor cursor(long revision) {
      return WatchCursor.newBuilder().putRevisions(0, revision).build();
    }

    @Override
    public Outcome read(String key) {
      throw new UnsupportedOperationException();
    }

    @Override
    public Outcome compareAndSet(String key, String expected, String newValue) {
      throw new UnsupportedOperationException();
    }

    @Override
    public Outcome scanKeys(String prefix) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void close() {}
  }
}
