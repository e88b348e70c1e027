package io.ringkv.server.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves how a node's TLS files are loaded and reloaded, without sockets: a changed certificate is
 * picked up by the next check (new handshakes present it), an unchanged one is not reloaded, and a
 * broken change (garbage, or a key of another certificate, as between writing one file and the
 * other) keeps the previous certificate and is counted; files that never loaded stop a start.
 */
class NodeTlsReloadTest {
  @TempDir Path dir;

  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

  private NodeTls load(Path certs) throws IOException {
    return NodeTls.load(TestCerts.settings(certs, "node-1", certs.resolve("ca.crt")), registry);
  }

  private double reloadFailures() {
    return registry.get("ringkv.tls.reload.failures").counter().count();
  }

  private static void replace(Path from, Path to) throws IOException {
    Files.copy(from, to, StandardCopyOption.REPLACE_EXISTING);
  }

  @Test
  void aChangedCertificateIsUsedAfterTheNextCheckAndAnUnchangedOneIsKept() throws Exception {
    Path certs = TestCerts.make(dir.resolve("a"), "127.0.12.1");
    try (NodeTls tls = load(certs)) {
      BigInteger first = tls.certificate().getSerialNumber();
      assertThat(tls.reloadIfChanged()).as("nothing changed").isFalse();

      Path next = TestCerts.reissue(certs, dir.resolve("b"), 1, "127.0.12.1");
      replace(next.resolve("node-1.crt"), certs.resolve("node-1.crt"));
      replace(next.resolve("node-1.key"), certs.resolve("node-1.key"));

      assertThat(tls.reloadIfChanged()).as("new certificate and key").isTrue();
      assertThat(tls.certificate().getSerialNumber()).isNotEqualTo(first);
      assertThat(registry.get("ringkv.tls.reloads").counter().count()).isEqualTo(1);
      assertThat(tls.reloadIfChanged()).as("loaded once only").isFalse();
    }
  }

  @Test
  void aKeyOfAnotherCertificateKeepsThePreviousOneUntilThePairMatches() throws Exception {
    Path certs = TestCerts.make(dir.resolve("a"), "127.0.12.1");
    try (NodeTls tls = load(certs)) {
      BigInteger first = tls.certificate().getSerialNumber();
      Path next = TestCerts.reissue(certs, dir.resolve("b"), 1, "127.0.12.1");

      replace(next.resolve("node-1.crt"), certs.resolve("node-1.crt")); // key not yet written
      assertThat(tls.reloadIfChanged()).isFalse();
      assertThat(tls.certificate().getSerialNumber()).isEqualTo(first);
      assertThat(reloadFailures()).isEqualTo(1);
      assertThat(tls.reloadIfChanged()).as("the same refused change is not retried").isFalse();
      assertThat(reloadFailures()).isEqualTo(1);

      replace(next.resolve("node-1.key"), certs.resolve("node-1.key"));
      assertThat(tls.reloadIfChanged()).isTrue();
      assertThat(tls.certificate().getSerialNumber()).isNotEqualTo(first);
    }
  }

  @Test
  void garbageKeepsThePreviousCertificate() throws Exception {
    Path certs = TestCerts.make(dir.resolve("a"), "127.0.12.1");
    try (NodeTls tls = load(certs)) {
      BigInteger first = tls.certificate().getSerialNumber();
      Files.writeString(certs.resolve("ca.crt"), "not a certificate\n");
      assertThat(tls.reloadIfChanged()).isFalse();
      assertThat(tls.certificate().getSerialNumber()).isEqualTo(first);
      assertThat(reloadFailures()).isEqualTo(1);
    }
  }

  @Test
  void filesThatDoNotLoadStopTheStartWithTheReason() throws Exception {
    Path certs = TestCerts.make(dir.resolve("a"), "127.0.12.1");
    Files.writeString(
        certs.resolve("node-1.key"),
        "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n");
    assertThatThrownBy(() -> load(certs))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("PKCS#1/SEC1")
        .hasMessageContaining("openssl pkcs8 -topk8");
  }

  @Test
  void handshakeFailureReasonsAreReadFromTheCause() {
    assertThat(
            NodeTls.reason(
                new javax.net.ssl.SSLHandshakeException(
                    "x", new java.security.cert.CertificateException("untrusted"))))
        .isEqualTo("untrusted_certificate");
    assertThat(NodeTls.reason(new io.netty.handler.ssl.NotSslRecordException("plain")))
        .isEqualTo("plaintext");
    assertThat(NodeTls.reason(new java.nio.channels.ClosedChannelException())).isEqualTo("closed");
  }
}
