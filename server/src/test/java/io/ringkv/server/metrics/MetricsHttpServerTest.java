package io.ringkv.server.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Proves the metrics/health endpoint over a real socket on 127.0.0.108: /metrics serves the
 * registry's meters (ours and the JVM's) in Prometheus text format, /health follows the node's
 * serving state with 200 or 503, and unknown paths and methods are refused and counted.
 */
class MetricsHttpServerTest {
  private final AtomicBoolean serving = new AtomicBoolean();
  private PrometheusMeterRegistry registry;
  private MetricsHttpServer server;
  private HttpClient client;

  @BeforeEach
  void start() throws Exception {
    registry = MetricsHttpServer.newRegistry();
    server =
        new MetricsHttpServer(new InetSocketAddress("127.0.0.108", 0), registry, serving::get)
            .start();
    client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  }

  @AfterEach
  void stop() {
    server.close();
    client.close();
  }

  @Test
  void metricsAreServedInPrometheusTextFormat() throws Exception {
    registry.counter("ringkv.test.requests", "kind", "put").increment(3);
    HttpResponse<String> response = get("/metrics");
    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.headers().firstValue("Content-Type"))
        .hasValue(MetricsHttpServer.PROMETHEUS_CONTENT_TYPE);
    assertThat(response.body())
        .contains("# TYPE ringkv_test_requests_total counter")
        .contains("ringkv_test_requests_total{kind=\"put\"} 3.0")
        .contains("jvm_memory_used_bytes");
  }

  @Test
  void healthFollowsTheServingState() throws Exception {
    HttpResponse<String> down = get("/health");
    assertThat(down.statusCode()).isEqualTo(503);
    assertThat(down.body()).contains("\"unavailable\"");
    serving.set(true);
    HttpResponse<String> up = get("/health");
    assertThat(up.statusCode()).isEqualTo(200);
    assertThat(up.body()).isEqualTo("{\"status\":\"ok\"}\n");
    assertThat(up.headers().firstValue("Content-Type")).hasValue("application/json");
  }

  @Test
  void unknownPathsAndMethodsAreRefusedAndCounted() throws Exception {
    assertThat(get("/nope").statusCode()).isEqualTo(404);
    HttpResponse<String> post =
        client.send(
            HttpRequest.newBuilder(uri("/metrics"))
                .POST(HttpRequest.BodyPublishers.ofString("x"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(post.statusCode()).isEqualTo(405);
    assertThat(registry.counter("ringkv.metrics.http.rejected").count()).isEqualTo(2);
  }

  private HttpResponse<String> get(String path) throws Exception {
    return client.send(
        HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(10)).GET().build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private URI uri(String path) {
    return URI.create("http://127.0.0.108:" + server.address().getPort() + path);
  }
}
