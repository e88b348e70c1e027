package io.ringkv.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The operator's TLS path against real node processes: {@code deploy/local-cluster.sh start --tls}
 * makes certificates with deploy/tls/make-certs.sh and starts three TLS nodes on 127.0.12.11-13
 * (and its own readiness checks, which use ringctl, pass); then the Java client with the CA and a
 * client certificate, the Java client with the CA only (client certificates are optional by
 * default), and {@code ringctl --cacert --cert --key} put and get; a plaintext client and a client
 * that does not trust the cluster's CA get no answer; {@code status} still reports the nodes; and
 * the nodes gossip sealed with the gossip.key the script passes them (the key's meters exist, all
 * three are alive, nothing was refused as unauthenticated).
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class TlsLocalClusterIT {
  static final Path ROOT = Path.of(System.getProperty("ringkv.repo.root", "..")).toAbsolutePath();
  static final Path RUN_DIR = ROOT.resolve("client/target/it-tls-run");
  static final Path TLS_DIR = RUN_DIR.resolve("tls");
  static final long GOSSIP_WAIT_SECONDS = 30;
  static final String[] ENDPOINTS = {"127.0.12.11:7379", "127.0.12.12:7379", "127.0.12.13:7379"};
  static final ScriptCluster CLUSTER =
      new ScriptCluster(
          ROOT, RUN_DIR, 10, Map.of("RINGKV_ADDRESS_PREFIX", "127.0.12", "RINGKV_AOT", "off"));

  @BeforeAll
  static void startCluster() throws Exception {
    CLUSTER.startFresh(3, "--tls");
  }

  @AfterAll
  static void stopCluster() throws Exception {
    CLUSTER.script("stop");
  }

  static RingKvClient.Builder client() {
    return RingKvClient.builder()
        .endpoints(ENDPOINTS)
        .deadline(Duration.ofSeconds(20))
        .attemptTimeout(Duration.ofSeconds(3));
  }

  @Test
  void theJavaClientWritesAndReadsOverMutualTlsAndWithTheCaOnly() {
    try (RingKvClient client =
        client()
            .tls(TLS_DIR.resolve("ca.crt"))
            .tlsClientCertificate(
                TLS_DIR.resolve("client-root.crt"), TLS_DIR.resolve("client-root.key"))
            .build()) {
      client.blocking().put("tls-java", "over mTLS");
      assertThat(client.blocking().get("tls-java")).map(Entry::valueUtf8).hasValue("over mTLS");
    }
    try (RingKvClient client = client().tls(TLS_DIR.resolve("ca.crt")).build()) {
      assertThat(client.blocking().get("tls-java")).map(Entry::valueUtf8).hasValue("over mTLS");
    }
  }

  @Test
  void plaintextAndUntrustingClientsGetNoAnswer() throws Exception {
    try (RingKvClient plain = client().deadline(Duration.ofSeconds(3)).build()) {
      assertThatThrownBy(() -> plain.blocking().get("tls-java"))
          .isInstanceOf(RingKvException.class);
    }
    // A CA that did not sign the nodes' certificates: the client refuses them.
    Path otherCa = RUN_DIR.resolve("other-ca");
    Process make =
        new ProcessBuilder(ROOT.resolve("deploy/tls/make-certs.sh").toString(), otherCa.toString())
            .redirectErrorStream(true)
            .start();
    make.getInputStream().readAllBytes();
    assertThat(make.waitFor(60, TimeUnit.SECONDS)).isTrue();
    try (RingKvClient untrusting =
        client().deadline(Duration.ofSeconds(3)).tls(otherCa.resolve("ca.crt")).build()) {
      assertThatThrownBy(() -> untrusting.blocking().get("tls-java"))
          .isInstanceOf(RingKvException.class);
    }
  }

  @Test
  void ringctlWritesAndReadsWithCacertCertAndKey() throws Exception {
    List<String> tls =
        List.of(
            "--endpoints",
            String.join(",", ENDPOINTS),
            "--timeout-ms",
            "20000",
            "--cacert",
            TLS_DIR.resolve("ca.crt").toString(),
            "--cert",
            TLS_DIR.resolve("client-root.crt").toString(),
            "--key",
            TLS_DIR.resolve("client-root.key").toString());
    assertThat(ringctl(tls, "put", "tls-ctl", "by ringctl")).startsWith("OK revision");
    assertThat(ringctl(tls, "get", "tls-ctl").strip()).isEqualTo("by ringctl");
    assertThat(ringctl(tls, "cluster", "status")).contains("kv service serving");
  }

  @Test
  void gossipIsSealedWithTheRunDirectorysKey() throws Exception {
    assertThat(TLS_DIR.resolve("gossip.key")).isRegularFile();
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    HttpRequest request =
        HttpRequest.newBuilder(URI.create("http://127.0.12.11:7390/metrics"))
            .timeout(Duration.ofSeconds(5))
            .build();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(GOSSIP_WAIT_SECONDS);
    String metrics = http.send(request, HttpResponse.BodyHandlers.ofString()).body();
    while (!metrics.contains("ringkv_gossip_members{state=\"alive\"} 3.0")
        && System.nanoTime() < deadline) {
      Thread.sleep(200); // polling interval of a condition with a deadline
      metrics = http.send(request, HttpResponse.BodyHandlers.ofString()).body();
    }
    assertThat(metrics)
        .contains("ringkv_gossip_members{state=\"alive\"} 3.0")
        .contains("ringkv_gossip_key_reloads_total")
        .contains("ringkv_gossip_datagrams_dropped_total{reason=\"unauthenticated\"} 0.0");
  }

  /** Runs bin/ringctl with {@code flags} then {@code command}; it must exit 0. Its stdout. */
  static String ringctl(List<String> flags, String... command) throws Exception {
    List<String> line = new ArrayList<>();
    line.add(ROOT.resolve("bin/ringctl").toString());
    line.addAll(flags);
    line.addAll(List.of(command));
    ProcessBuilder builder = new ProcessBuilder(line).directory(ROOT.toFile());
    builder.environment().put("RINGCTL_CLASSPATH", System.getProperty("java.class.path"));
    Path err = Files.createTempFile("ringctl", ".err");
    try {
      Process process = builder.redirectError(err.toFile()).start();
      String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("%s finished", line).isTrue();
      assertThat(process.exitValue())
          .as("%s exit; stderr: %s", line, Files.readString(err))
          .isZero();
      return out;
    } finally {
      Files.deleteIfExists(err);
    }
  }
}
