package io.ringkv.server.metrics;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's metrics and health endpoint over plain HTTP, served by the JDK's built-in {@code
 * com.sun.net.httpserver} (no extra dependency; two tiny endpoints need nothing more).
 *
 * <ul>
 *   <li>{@code GET /metrics}: every meter of the registry in Prometheus text format.
 *   <li>{@code GET /health}: 200 {@code {"status":"ok"}} while the node serves, 503 {@code
 *       {"status":"unavailable"}} otherwise (starting, stopping, or not yet ready), for load
 *       balancers and orchestrators.
 * </ul>
 *
 * One daemon thread answers requests; scrapes are cheap and rare.
 */
public final class MetricsHttpServer implements AutoCloseable {
  public static final String METRICS_PATH = "/metrics";
  public static final String HEALTH_PATH = "/health";
  static final String PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

  /** Pending connections the kernel queues for this server. */
  static final int ACCEPT_BACKLOG_CONNECTIONS_MAX = 64;

  private static final Logger log = LoggerFactory.getLogger(MetricsHttpServer.class);

  private final PrometheusMeterRegistry registry;
  private final BooleanSupplier serving;
  private final HttpServer server;
  private final ExecutorService executor;
  private final Counter requestsRejected;

  /** A Prometheus registry with the JVM and process meters every node exports. */
  public static PrometheusMeterRegistry newRegistry() {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    new ClassLoaderMetrics().bindTo(registry);
    new JvmMemoryMetrics().bindTo(registry);
    new JvmGcMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    return registry;
  }

  public MetricsHttpServer(
      InetSocketAddress address, PrometheusMeterRegistry registry, BooleanSupplier serving)
      throws IOException {
    this.registry = registry;
    this.serving = serving;
    this.requestsRejected =
        Counter.builder("ringkv.metrics.http.rejected")
            .description("metrics/health HTTP requests refused (unknown path or method)")
            .register(registry);
    this.server = HttpServer.create(address, ACCEPT_BACKLOG_CONNECTIONS_MAX);
    this.executor =
        Executors.newSingleThreadExecutor(runnable -> {
          Thread thread = new Thread(runnable, "ringkv-metrics-http");
          thread.setDaemon(true);
          return thread;
        });
    server.setExecutor(executor);
    server.createContext(
        "/",
        exchange -> {
          try (exchange) {
            handle(exchange);
          } catch (IOException | RuntimeException e) {
            log.debug("metrics request failed", e);
          }
        });
  }

  public MetricsHttpServer start() {
    server.start();
    InetSocketAddress bound = server.getAddress();
    log.info(
        "metrics on http://{}:{}{} and {}",
        bound.getHostString(),
        bound.getPort(),
        METRICS_PATH,
        HEALTH_PATH);
    return this;
  }

  /** The bound address (with the actual port when port 0 was asked for). */
  public InetSocketAddress address() {
    return server.getAddress();
  }

  private void handle(HttpExchange exchange) throws IOException {
    String method = exchange.getRequestMethod();
    boolean head = method.equals("HEAD");
    if (!head && !method.equals("GET")) {
      requestsRejected.increment();
      exchange.getResponseHeaders().set("Allow", "GET, HEAD");
      respond(exchange, 405, "text/plain; charset=utf-8", "method not allowed\n", false);
      return;
    }
    switch (exchange.getRequestURI().getPath()) {
      case METRICS_PATH -> respond(exchange, 200, PROMETHEUS_CONTENT_TYPE, registry.scrape(), head);
      case HEALTH_PATH -> {
        boolean ok = serving.getAsBoolean();
        respond(
            exchange,
            ok ? 200 : 503,
            "application/json",
            ok ? "{\"status\":\"ok\"}\n" : "{\"status\":\"unavailable\"}\n",
            head);
      }
      default -> {
        requestsRejected.increment();
        respond(exchange, 404, "text/plain; charset=utf-8", "not found\n", head);
      }
    }
  }

  private static void respond(
      HttpExchange exchange, int status, String contentType, String body, boolean head)
      throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", contentType);
    exchange.sendResponseHeaders(status, head ? -1 : bytes.length);
    if (!head) {
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(bytes);
      }
    }
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }
}
