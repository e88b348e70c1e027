package io.ringkv.server.auth;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves the user name taken from a client certificate is its subject's common name: a certificate
 * made in the test with the JDK's keytool (subject CN=alice, OU=ops, O=ringkv) names "alice", and a
 * session without a certificate names nobody.
 */
class CertificateNamesTest {
  @TempDir Path dir;

  @Test
  void commonNameOfTheSubject() throws Exception {
    Path store = dir.resolve("client.p12");
    Path keytool = Path.of(System.getProperty("java.home"), "bin", "keytool");
    Process process =
        new ProcessBuilder(
                List.of(
                    keytool.toString(),
                    "-genkeypair",
                    "-alias",
                    "client",
                    "-keyalg",
                    "EC",
                    "-dname",
                    "CN=alice, OU=ops, O=ringkv",
                    "-validity",
                    "1",
                    "-storetype",
                    "PKCS12",
                    "-keystore",
                    store.toString(),
                    "-storepass",
                    "changeit"))
            .redirectErrorStream(true)
            .start();
    String output = new String(process.getInputStream().readAllBytes());
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("keytool finished").isTrue();
    assertThat(process.exitValue()).as("keytool: %s", output).isZero();

    KeyStore keys = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(store)) {
      keys.load(in, "changeit".toCharArray());
    }
    X509Certificate certificate = (X509Certificate) keys.getCertificate("client");
    assertThat(CertificateNames.commonName(certificate)).isEqualTo("alice");
    assertThat(CertificateNames.clientName(null)).isNull();
  }
}
