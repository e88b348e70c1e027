package io.ringkv.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves how the TLS settings are read: no file means plaintext with the documented defaults; the
 * three files are all or none, each must be readable, and a bad client-certificate mode is refused;
 * each failure names the setting at fault. The gossip key file is off by default and, when given,
 * must be a readable file.
 */
class TlsSettingsConfigTest {
  @TempDir Path directory;

  private NodeConfig load(String... flags) {
    String[] all = new String[flags.length + 2];
    all[0] = "--data-dir";
    all[1] = directory.resolve("data").toString();
    System.arraycopy(flags, 0, all, 2, flags.length);
    return ConfigLoader.load(all);
  }

  private void assertRefused(String settingName, String... flags) {
    assertThatThrownBy(() -> load(flags))
        .isInstanceOfSatisfying(
            ConfigException.class, e -> assertThat(e.settingName()).isEqualTo(settingName));
  }

  @Test
  void noFilesMeansPlaintextWithTheDefaults() {
    TlsSettings tls = load().tls();
    assertThat(tls.enabled()).isFalse();
    assertThat(tls.clientAuth()).isEqualTo(TlsSettings.ClientAuth.OPTIONAL);
    assertThat(tls.reloadIntervalMillis()).isEqualTo(TlsSettings.RELOAD_INTERVAL_MILLIS_DEFAULT);
  }

  @Test
  void threeReadableFilesTurnTlsOn() throws Exception {
    Path cert = Files.writeString(directory.resolve("n.crt"), "x");
    Path key = Files.writeString(directory.resolve("n.key"), "x");
    Path ca = Files.writeString(directory.resolve("ca.crt"), "x");
    TlsSettings tls =
        load(
                "--tls-cert-file", cert.toString(),
                "--tls-key-file", key.toString(),
                "--tls-ca-file", ca.toString(),
                "--client-tls-client-auth", "require",
                "--tls-reload-interval-millis", "250")
            .tls();
    assertThat(tls.enabled()).isTrue();
    assertThat(tls.certFile()).isEqualTo(cert);
    assertThat(tls.clientAuth()).isEqualTo(TlsSettings.ClientAuth.REQUIRE);
    assertThat(tls.reloadIntervalMillis()).isEqualTo(250);

    assertRefused(
        "tls-ca-file", "--tls-cert-file", cert.toString(), "--tls-key-file", key.toString());
    assertRefused(
        "tls-key-file",
        "--tls-cert-file",
        cert.toString(),
        "--tls-key-file",
        directory.resolve("missing.key").toString(),
        "--tls-ca-file",
        ca.toString());
  }

  @Test
  void theGossipKeyFileIsOffByDefaultAndMustBeReadable() throws Exception {
    assertThat(load().gossip().keyFile()).isNull();
    Path key = Files.writeString(directory.resolve("gossip.key"), "x");
    assertThat(load("--gossip-key-file", key.toString()).gossip().keyFile()).isEqualTo(key);
    assertRefused(
        "gossip-key-file", "--gossip-key-file", directory.resolve("missing.key").toString());
    assertRefused("gossip-key-file", "--gossip-key-file", directory.toString());
  }

  @Test
  void badModeAndIntervalAreRefused() {
    assertRefused("client-tls-client-auth", "--client-tls-client-auth", "sometimes");
    assertRefused("tls-reload-interval-millis", "--tls-reload-interval-millis", "5");
  }
}
