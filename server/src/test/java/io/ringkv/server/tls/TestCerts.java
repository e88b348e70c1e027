package io.ringkv.server.tls;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.ringkv.server.config.TlsSettings;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;

/**
 * Certificates for tests, made by deploy/tls/make-certs.sh (so the tests also prove the script's
 * output is what a node loads), and small TLS probes of a listener.
 */
public final class TestCerts {
  static final Path ROOT = Path.of(System.getProperty("ringkv.repo.root", "..")).toAbsolutePath();

  private TestCerts() {}

  /** Runs make-certs.sh into {@code dir} for {@code hosts} (node-1 is the first host). */
  public static Path make(Path dir, String... hosts) throws Exception {
    return makeWithUsers(dir, "root", hosts);
  }

  /** As {@link #make}, with a client certificate for each of {@code users} (space-separated). */
  public static Path makeWithUsers(Path dir, String users, String... hosts) throws Exception {
    List<String> command = new ArrayList<>();
    command.add(ROOT.resolve("deploy/tls/make-certs.sh").toString());
    command.add(dir.toString());
    command.addAll(List.of(hosts));
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    builder.environment().put("RINGKV_TLS_USERS", users);
    Process process = builder.start();
    String output = new String(process.getInputStream().readAllBytes());
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("make-certs.sh finished").isTrue();
    assertThat(process.exitValue()).as("make-certs.sh exit; output: %s", output).isZero();
    return dir;
  }

  /** A new certificate for node {@code index} at {@code host}, signed by the CA of {@code dir}. */
  public static Path reissue(Path dir, Path into, int index, String... hosts) throws Exception {
    Files.createDirectories(into);
    Files.copy(dir.resolve("ca.crt"), into.resolve("ca.crt"));
    Files.copy(dir.resolve("ca.key"), into.resolve("ca.key"));
    make(into, hosts);
    return into;
  }

  /** TLS settings of node {@code index} in {@code dir}, with another CA file if given. */
  public static TlsSettings settings(Path dir, String name, Path caFile) {
    return new TlsSettings(
        dir.resolve(name + ".crt"),
        dir.resolve(name + ".key"),
        caFile,
        TlsSettings.ClientAuth.REQUIRE,
        TlsSettings.RELOAD_INTERVAL_MILLIS_DEFAULT);
  }

  /** Node flags that turn TLS on with {@code name}'s certificate of {@code dir}. */
  public static List<String> flags(Path dir, String name) {
    return List.of(
        "--tls-cert-file",
        dir.resolve(name + ".crt").toString(),
        "--tls-key-file",
        dir.resolve(name + ".key").toString(),
        "--tls-ca-file",
        dir.resolve("ca.crt").toString());
  }

  /**
   * The certificate a TLS listener at {@code address} presents to a new connection, trusting {@code
   * tls}'s CA and presenting its certificate.
   */
  public static X509Certificate presented(InetSocketAddress address, NodeTls tls) throws Exception {
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(
        new KeyManager[] {tls.keyManager()},
        new TrustManager[] {tls.trustManager(NodeTls.Listener.CLIENT)},
        null);
    try (SSLSocket socket =
        (SSLSocket)
            context.getSocketFactory().createSocket(address.getAddress(), address.getPort())) {
      socket.setSoTimeout(10_000);
      SSLParameters parameters = socket.getSSLParameters();
      parameters.setApplicationProtocols(new String[] {"h2"});
      socket.setSSLParameters(parameters);
      socket.startHandshake();
      return (X509Certificate) socket.getSession().getPeerCertificates()[0];
    }
  }

  /** Failed handshakes counted on {@code listener} ("client" or "peer"), of one reason or all. */
  public static double failures(MeterRegistry registry, String listener, String reason) {
    double sum = 0;
    for (Counter counter :
        registry.find("ringkv.tls.handshake.failures").tag("listener", listener).counters()) {
      if (reason == null || reason.equals(counter.getId().getTag("reason"))) {
        sum += counter.count();
      }
    }
    return sum;
  }
}
