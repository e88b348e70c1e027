package io.ringkv.bench.compare;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.protobuf.ByteString;
import java.util.List;
import java.util.concurrent.atomic.AtomicLongArray;
import org.junit.jupiter.api.Test;

/**
 * Proves the arithmetic behind the changefeed figures without a cluster: a value carries its put's
 * sequence number both ways; the lag of a (put, consumer) pair runs from acknowledgement to
 * arrival, counts an arrival before the acknowledgement as 0 and apart, counts an acknowledged put
 * a consumer never got as missing, skips warm-up and unacknowledged puts; the node's heap is the
 * sum of its heap pools in the metrics text; and the Report reads the WATCH-LAG line like any
 * operation.
 */
class WatchFiguresTest {
  @Test
  void valueCarriesItsSequenceNumber() {
    byte[] filler = new byte[20];
    for (long sequence : new long[] {0, 1, 255, 256, 1_999_999, WatchLagDriver.MARKER_SEQUENCE}) {
      byte[] value = WatchTarget.withSequence(filler, sequence);
      assertEquals(20, value.length);
      assertEquals(sequence, WatchTarget.sequenceOf(ByteString.copyFrom(value)));
    }
    assertEquals(-1, WatchTarget.sequenceOf(ByteString.copyFrom(new byte[7])));
  }

  @Test
  void lagRunsFromAcknowledgementToArrival() {
    // Put 0 is warm-up, put 3 was never acknowledged; two consumers.
    AtomicLongArray ack = new AtomicLongArray(new long[] {1_000, 10_000_000, 20_000_000, 0});
    AtomicLongArray first = new AtomicLongArray(new long[] {5_000, 12_000_000, 19_000_000, 0});
    AtomicLongArray second = new AtomicLongArray(new long[] {0, 15_000_000, 0, 30_000_000});

    WatchLagDriver.Lag lag = WatchLagDriver.lag(ack, 1, List.of(first, second), 0, 10_000_000);

    // first: 2 ms and (before the ack) 0; second: 5 ms and missing put 2.
    assertEquals(3, lag.histogram().getTotalCount());
    assertEquals(1, lag.missing());
    assertEquals(1, lag.beforeAck());
    assertEquals(0, lag.histogram().getMinValue());
    assertEquals(5_000, lag.histogram().getMaxValue(), 5);
    // Puts 1 and 2 were due at 10 and 20 ms: arrivals 2 ms, 0 (19 < 20) and 5 ms after.
    assertEquals(3, lag.fromSend().getTotalCount());
    assertEquals(0, lag.fromSend().getMinValue());
    assertEquals(5_000, lag.fromSend().getMaxValue(), 5);
  }

  @Test
  void heapIsTheSumOfTheHeapPools() {
    String metrics =
        """
        # HELP jvm_memory_used_bytes The amount of used memory
        # TYPE jvm_memory_used_bytes gauge
        jvm_memory_used_bytes{area="heap",id="Tenured Gen"} 1.2E7
        jvm_memory_used_bytes{area="heap",id="Eden Space"} 3000000.0
        jvm_memory_used_bytes{area="nonheap",id="Metaspace"} 5.0E7
        jvm_memory_max_bytes{area="heap",id="Tenured Gen"} 2.6E8
        """;

    assertEquals(15_000_000, IdleWatchProbe.heapUsedBytes(metrics));
    assertEquals(
        10_000,
        IdleWatchProbe.metricSum("ringkv_watch_active 10000.0\n", "ringkv_watch_active", ""));
    assertThrows(IllegalArgumentException.class, () -> IdleWatchProbe.heapUsedBytes("up 1\n"));
  }

  @Test
  void classGrowthComesFromTheHistograms() {
    String before =
        """
        12741:
         num     #instances         #bytes  class name (module)
        -------------------------------------------------------
           1:          1000         100000  [B (java.base@25.0.3)
           2:            10            640  io.ringkv.server.watch.WatchStream
        Total          1010         100640
        """;
    String after =
        """
           1:          3000         300000  [B (java.base@25.0.3)
           2:          2010         128640  io.ringkv.server.watch.WatchStream
           3:             5            100  java.lang.Object (java.base@25.0.3)
        """;

    List<String> top =
        IdleWatchProbe.topGrowth(
            IdleWatchProbe.classHistogram(before), IdleWatchProbe.classHistogram(after), 2, 2000);

    assertEquals(2, top.size());
    assertEquals(
        "ringkv 64, grpc 0, netty 0, jdk 0, arrays 100, other 0",
        IdleWatchProbe.growthByOwner(
            IdleWatchProbe.classHistogram(before), IdleWatchProbe.classHistogram(after), 2000));
    assertEquals("     200,000 bytes     2,000 objects   100.0 bytes/watch  [B", top.get(0));
    assertEquals(
        "     128,000 bytes     2,000 objects    64.0 bytes/watch  io.ringkv.server.watch.WatchStream",
        top.get(1));
  }

  @Test
  void reportReadsTheLagLine() {
    Report.Run run =
        Report.parse(
            List.of(
                "[OVERALL], Throughput(ops/sec), 1000.0",
                "[PUT], 50thPercentileLatency(us), 900",
                "[WATCH-LAG], Operations, 16000",
                "[WATCH-LAG], 50thPercentileLatency(us), 1200",
                "[WATCH-LAG], 99thPercentileLatency(us), 4000",
                "[WATCH-LAG], Return=ERROR, 2"));

    assertEquals(1200, run.ops().get("WATCH-LAG").get("50thPercentileLatency(us)"));
    assertEquals(2, run.ops().get("WATCH-LAG").get("Return=ERROR"));
  }
}
