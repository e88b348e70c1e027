package io.ringkv.server.membership;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.junit.jupiter.api.Test;

/**
 * Proves the membership meters reach Prometheus under the names docs/architecture.md gives, with
 * the values counted (a renamed meter or a lost tag fails here, not on an operator's dashboard).
 */
class MembershipMetricsTest {
  @Test
  void metersScrapeUnderTheDocumentedNames() {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    MembershipMetrics metrics = new MembershipMetrics(registry);
    metrics.moveStarted(MembershipMetrics.Why.JOIN);
    metrics.moveFinished(MembershipMetrics.Why.JOIN, 1234);
    metrics.moveStarted(MembershipMetrics.Why.REPLACEMENT);
    metrics.mapWriteLost();
    metrics.observe(2, 5);
    String scraped = registry.scrape();
    for (String line :
        new String[] {
          "ringkv_membership_moves_started_total{why=\"join\"} 1.0",
          "ringkv_membership_moves_started_total{why=\"replacement\"} 1.0",
          "ringkv_membership_moves_finished_total{why=\"join\"} 1.0",
          "ringkv_membership_moved_bytes_total 1234.0",
          "ringkv_membership_moves_in_progress 2.0",
          "ringkv_membership_under_replicated_partitions 5.0",
          "ringkv_membership_map_writes_lost_total 1.0"
        }) {
      assertTrue(scraped.contains(line), line + " not in:\n" + scraped);
    }
  }
}
