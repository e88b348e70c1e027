package io.ringkv.server.raft;

import io.micrometer.core.instrument.distribution.CountAtBucket;
import java.util.concurrent.TimeUnit;

/**
 * The p99 of a timer over the last window, from its cumulative histogram: each call subtracts the
 * bucket counts seen by the previous call, so the answer covers only what happened in between.
 * Precision is the histogram's bucket (the answer is the upper bound of the bucket holding the 99th
 * percentile). Not thread-safe: one caller, the driver thread.
 */
final class LatencyWindow {
  static final double QUANTILE = 0.99;

  /**
   * Fewer commits than this in a window say nothing about a p99 (one slow commit of a quiet node
   * would be its "p99"): such a window counts as empty.
   */
  static final int SAMPLES_MIN = 20;

  private double[] previousCounts = new double[0];

  /**
   * The window's p99 in milliseconds, or NaN when fewer than {@link #SAMPLES_MIN} commits were
   * recorded in it; {@code totalCount} is the timer's count, which also holds samples above the
   * last bucket (those count as infinitely slow).
   */
  double p99Millis(CountAtBucket[] buckets, long totalCount) {
    double[] counts = new double[buckets.length + 1];
    double[] upperMillis = new double[buckets.length + 1];
    for (int index = 0; index < buckets.length; index++) {
      counts[index] = buckets[index].count();
      upperMillis[index] = buckets[index].bucket(TimeUnit.MILLISECONDS);
    }
    counts[buckets.length] = totalCount;
    upperMillis[buckets.length] = Double.POSITIVE_INFINITY;
    double[] previous = previousCounts;
    previousCounts = counts;
    return quantile(upperMillis, previous.length == counts.length ? previous : null, counts);
  }

  /**
   * The upper bound of the bucket where the cumulative window count first reaches {@link #QUANTILE}
   * of the window's total; {@code previous} null means the window is everything.
   */
  static double quantile(double[] upperBounds, double[] previous, double[] cumulative) {
    int last = cumulative.length - 1;
    if (last < 0) {
      return Double.NaN;
    }
    if (previous != null && previous[last] > cumulative[last]) {
      previous = null; // the timer was reset: its counts are this window's alone
    }
    double total = cumulative[last] - (previous == null ? 0 : previous[last]);
    if (total < SAMPLES_MIN) {
      return Double.NaN;
    }
    for (int index = 0; index <= last; index++) {
      double inWindow = cumulative[index] - (previous == null ? 0 : previous[index]);
      if (inWindow >= QUANTILE * total) {
        return upperBounds[index];
      }
    }
    return upperBounds[last];
  }
}
