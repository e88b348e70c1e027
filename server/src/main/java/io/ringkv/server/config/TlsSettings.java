package io.ringkv.server.config;

import java.nio.file.Path;

/**
 * TLS of a node: one certificate and key (PEM) for the client listener, the peer listener and the
 * node's own connections to its peers, and the cluster CA that every peer's certificate (and every
 * client certificate offered) must be signed by. Off when no file is given: everything is
 * plaintext.
 *
 * @param certFile PEM certificate chain of this node, leaf first; null when TLS is off
 * @param keyFile PEM private key of the leaf (PKCS#8, unencrypted); null when TLS is off
 * @param caFile PEM certificates of the cluster CA; null when TLS is off
 * @param clientAuth whether the client listener asks clients for a certificate
 * @param reloadIntervalMillis how often the three files are checked for a change
 */
public record TlsSettings(
    Path certFile, Path keyFile, Path caFile, ClientAuth clientAuth, long reloadIntervalMillis) {
  public static final long RELOAD_INTERVAL_MILLIS_DEFAULT = 5_000;

  /** Plaintext everywhere. */
  public static final TlsSettings OFF =
      new TlsSettings(null, null, null, ClientAuth.OPTIONAL, RELOAD_INTERVAL_MILLIS_DEFAULT);

  /**
   * Client certificates on the client listener. Peers always need one, whatever this says: peer
   * traffic is mutual TLS whenever TLS is on.
   */
  public enum ClientAuth {
    /** Not asked for: any client that trusts the node's certificate may call. */
    NONE,
    /** Asked for; a client may offer none, but one it offers must be signed by the cluster CA. */
    OPTIONAL,
    /** A client without a certificate signed by the cluster CA is refused. */
    REQUIRE;

    /** The value of the setting's text (none, optional or require). */
    public static ClientAuth parse(String text) {
      for (ClientAuth value : values()) {
        if (value.name().equalsIgnoreCase(text)) {
          return value;
        }
      }
      throw new IllegalArgumentException("must be none, optional or require, got '" + text + "'");
    }
  }

  public TlsSettings {
    boolean any = certFile != null || keyFile != null || caFile != null;
    boolean all = certFile != null && keyFile != null && caFile != null;
    if (any && !all) {
      throw new IllegalArgumentException(
          "TLS needs all three of certificate, key and CA file, or none");
    }
    if (clientAuth == null) {
      throw new IllegalArgumentException("clientAuth must not be null");
    }
    if (reloadIntervalMillis < 1) {
      throw new IllegalArgumentException(
          "reloadIntervalMillis must be >= 1, got " + reloadIntervalMillis);
    }
  }

  public boolean enabled() {
    return certFile != null;
  }
}
