package io.ringkv.server.tls;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.ringkv.server.config.FilePoller;
import io.ringkv.server.config.TlsSettings;
import io.ringkv.server.transport.PeerTls;
import java.io.IOException;
import java.net.Socket;
import java.nio.channels.ClosedChannelException;
import java.nio.file.Files;
import java.security.GeneralSecurityException;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509ExtendedTrustManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's TLS: the certificate it presents and the CA it trusts, for the client gRPC listener, the
 * node-to-node gRPC channels and the Netty peer transport alike.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Reload without a restart.</b> Neither grpc-java nor Netty can swap the SslContext of a
 *       running server, so the contexts are built once around a key manager and a trust manager
 *       that delegate to the newest loaded generation of the files. A new handshake uses the newest
 *       generation; open connections keep the one they started with.
 *   <li><b>A bad change never replaces good material.</b> The files are read every reload interval
 *       and compared by content (a rewritten certificate of the same size and a coarse-grained
 *       mtime would slip past an mtime+size check). A change that does not load, or whose key does
 *       not match its certificate (the moment between writing one and the other), is logged once,
 *       counted, and the previous generation stays.
 *   <li><b>Aliases carry their generation.</b> A handshake chooses an alias and then asks for its
 *       chain and key; a reload in between must not pair one generation's alias with another's key,
 *       so aliases name the generation they came from.
 *   <li><b>Peers are nodes.</b> Client certificates of users are signed by the same CA; the peer
 *       transport also requires the dialer's certificate to be usable as a server certificate (no
 *       extended key usage, or serverAuth among them), which user certificates are not.
 *   <li><b>No CA names are sent.</b> A client offers a certificate only when it matches the CA
 *       names a server lists; with none listed a client always offers its certificate, so one from
 *       a foreign CA is seen, refused and counted rather than silently left out.
 * </ul>
 */
public final class NodeTls implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(NodeTls.class);

  /** The serverAuth extended key usage. */
  private static final String SERVER_AUTH_USAGE = "1.3.6.1.5.5.7.3.1";

  /** Which listener a handshake belonged to (the metric tag). */
  public enum Listener {
    CLIENT("client"),
    PEER("peer");

    final String tag;

    Listener(String tag) {
      this.tag = tag;
    }
  }

  /** One loaded generation; numbers only grow. */
  private record Generation(long number, TlsMaterial material) {}

  private final TlsSettings settings;
  private final MeterRegistry registry;
  private final Counter reloads;
  private final Counter reloadFailures;
  private volatile Generation current;
  private volatile Generation previous;

  /** Contents of the last change that failed to load (logged once, not at every poll). */
  private TlsMaterial.Files lastRefused;

  private FilePoller poller;

  private NodeTls(TlsSettings settings, MeterRegistry registry, TlsMaterial first) {
    this.settings = settings;
    this.registry = registry;
    this.current = new Generation(1, first);
    this.previous = current;
    this.reloads =
        Counter.builder("ringkv.tls.reloads")
            .description("TLS files reloaded after they changed")
            .register(registry);
    this.reloadFailures =
        Counter.builder("ringkv.tls.reload.failures")
            .description("changed TLS files that did not load (the previous ones stay in use)")
            .register(registry);
    Gauge.builder(
            "ringkv.tls.certificate.expiry.seconds",
            this,
            tls -> tls.certificate().getNotAfter().getTime() / 1000.0)
        .description("when this node's certificate in use expires, seconds since the epoch")
        .register(registry);
  }

  /**
   * Loads the files of {@code settings} (TLS must be on).
   *
   * @throws IOException naming the file and what is wrong with it
   */
  public static NodeTls load(TlsSettings settings, MeterRegistry registry) throws IOException {
    if (!settings.enabled()) {
      throw new IllegalArgumentException("TLS is off: no files to load");
    }
    try {
      NodeTls tls = new NodeTls(settings, registry, TlsMaterial.load(read(settings)));
      log.info(
          "TLS on: certificate {} (serial {}, expires {}), CA file {}, client certificates {}",
          tls.certificate().getSubjectX500Principal(),
          tls.certificate().getSerialNumber().toString(16),
          tls.certificate().getNotAfter(),
          settings.caFile(),
          settings.clientAuth().name().toLowerCase(java.util.Locale.ROOT));
      return tls;
    } catch (GeneralSecurityException e) {
      throw new IOException(
          "TLS files "
              + List.of(settings.certFile(), settings.keyFile(), settings.caFile())
              + " do not load: "
              + e.getMessage(),
          e);
    }
  }

  private static TlsMaterial.Files read(TlsSettings settings) throws IOException {
    return new TlsMaterial.Files(
        Files.readAllBytes(settings.certFile()),
        Files.readAllBytes(settings.keyFile()),
        Files.readAllBytes(settings.caFile()));
  }

  /** Polls the files every reload interval from now on, on a daemon thread of its own. */
  public synchronized NodeTls startReloading() {
    if (poller == null) {
      poller = FilePoller.start("tls", settings.reloadIntervalMillis(), this::reloadIfChanged);
    }
    return this;
  }

  /**
   * Reads the files; when their contents changed and load, new handshakes use them from now on.
   *
   * @return whether a new generation was installed
   */
  public synchronized boolean reloadIfChanged() {
    TlsMaterial.Files files;
    try {
      files = read(settings);
    } catch (IOException e) {
      refuse(null, "cannot be read: " + e);
      return false;
    }
    Generation now = current;
    if (files.sameAs(now.material().files()) || files.sameAs(lastRefused)) {
      return false;
    }
    TlsMaterial material;
    try {
      material = TlsMaterial.load(files);
    } catch (GeneralSecurityException | IOException | RuntimeException e) {
      refuse(files, "do not load: " + e.getMessage());
      return false;
    }
    previous = now;
    current = new Generation(now.number() + 1, material);
    lastRefused = null;
    reloads.increment();
    log.info(
        "TLS files reloaded: certificate {} (serial {}, expires {}) for new connections",
        material.leaf().getSubjectX500Principal(),
        material.leaf().getSerialNumber().toString(16),
        material.leaf().getNotAfter());
    return true;
  }

  private void refuse(TlsMaterial.Files files, String why) {
    if (files != null) {
      lastRefused = files;
    }
    reloadFailures.increment();
    log.error(
        "changed TLS files {} {}; the previous certificate stays in use",
        List.of(settings.certFile(), settings.keyFile(), settings.caFile()),
        why);
  }

  /** The certificate new handshakes present. */
  public X509Certificate certificate() {
    return current.material().leaf();
  }

  public TlsSettings settings() {
    return settings;
  }

  /** Presents the newest generation's certificate. */
  X509ExtendedKeyManager keyManager() {
    return keyManager;
  }

  /** Checks the other side against the newest generation's CA. */
  X509ExtendedTrustManager trustManager(Listener listener) {
    return listener == Listener.PEER ? peerTrustManager : clientTrustManager;
  }

  /** Counts a failed TLS handshake on {@code listener}, by a reason read from its cause. */
  public void handshakeFailed(Listener listener, Throwable cause) {
    String reason = reason(cause);
    Counter.builder("ringkv.tls.handshake.failures")
        .description("TLS handshakes that failed, by listener and reason")
        .tags("listener", listener.tag, "reason", reason)
        .register(registry)
        .increment();
    log.debug("TLS handshake on the {} listener failed ({})", listener.tag, reason, cause);
  }

  /**
   * A short reason for a failed handshake: plaintext, untrusted_certificate, no_certificate,
   * certificate_refused, closed or other.
   */
  static String reason(Throwable cause) {
    for (Throwable t = cause; t != null; t = t.getCause()) {
      // Shaded (gRPC) and plain Netty each have their own class of this name.
      if (t.getClass().getSimpleName().equals("NotSslRecordException")) {
        return "plaintext";
      }
      if (t instanceof CertificateException) {
        return "untrusted_certificate";
      }
      if (t instanceof ClosedChannelException) {
        return "closed";
      }
    }
    String message =
        cause == null ? "" : String.valueOf(cause.getMessage()).toLowerCase(java.util.Locale.ROOT);
    if (message.contains("empty client certificate chain")
        || message.contains("certificate_required")) {
      return "no_certificate"; // the client offered none where one is required
    }
    if (cause instanceof SSLException && message.contains("certificate")) {
      return "certificate_refused";
    }
    return "other";
  }

  /**
   * Whether {@code certificate} (verified against the cluster CA by the caller) is a node's: no
   * extended key usage, or serverAuth among them. Users' client certificates carry clientAuth only,
   * so they can neither speak Raft nor act for other users on forwarded calls.
   */
  public static boolean isNodeCertificate(X509Certificate certificate) {
    List<String> usages;
    try {
      usages = certificate.getExtendedKeyUsage();
    } catch (CertificateParsingException e) {
      return false;
    }
    return usages == null || usages.contains(SERVER_AUTH_USAGE);
  }

  /** The Netty (peer transport) side of this TLS. */
  public PeerTls peerTls() throws SSLException {
    io.netty.handler.ssl.SslContext server =
        io.netty.handler.ssl.SslContextBuilder.forServer(keyManager)
            .sslProvider(io.netty.handler.ssl.SslProvider.JDK)
            .trustManager(peerTrustManager)
            .clientAuth(io.netty.handler.ssl.ClientAuth.REQUIRE)
            .build();
    io.netty.handler.ssl.SslContext client =
        io.netty.handler.ssl.SslContextBuilder.forClient()
            .sslProvider(io.netty.handler.ssl.SslProvider.JDK)
            .keyManager(keyManager)
            .trustManager(peerTrustManager)
            .endpointIdentificationAlgorithm("HTTPS")
            .build();
    return new PeerTls() {
      @Override
      public io.netty.handler.ssl.SslContext serverContext() {
        return server;
      }

      @Override
      public io.netty.handler.ssl.SslContext clientContext() {
        return client;
      }

      @Override
      public void handshakeFailed(Throwable cause) {
        NodeTls.this.handshakeFailed(Listener.PEER, cause);
      }
    };
  }

  @Override
  public synchronized void close() {
    if (poller != null) {
      poller.close();
    }
  }

  // --- delegation to the newest generation ----------------------------------------------------

  /** "generation/alias": which generation an alias came from. */
  private static String tagged(Generation generation, String alias) {
    return alias == null ? null : generation.number() + "/" + alias;
  }

  private record Resolved(X509ExtendedKeyManager keyManager, String alias) {}

  private Resolved resolve(String tagged) {
    int slash = tagged == null ? -1 : tagged.indexOf('/');
    if (slash < 0) {
      return null;
    }
    long number;
    try {
      number = Long.parseLong(tagged.substring(0, slash));
    } catch (NumberFormatException e) {
      return null;
    }
    String alias = tagged.substring(slash + 1);
    for (Generation generation : new Generation[] {current, previous}) {
      if (generation.number() == number) {
        return new Resolved(generation.material().keyManager(), alias);
      }
    }
    return null;
  }

  private final X509ExtendedKeyManager keyManager =
      new X509ExtendedKeyManager() {
        @Override
        public String[] getClientAliases(String keyType, Principal[] issuers) {
          return aliases(
              current, current.material().keyManager().getClientAliases(keyType, issuers));
        }

        @Override
        public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
          Generation now = current;
          return tagged(
              now, now.material().keyManager().chooseClientAlias(keyType, issuers, socket));
        }

        @Override
        public String[] getServerAliases(String keyType, Principal[] issuers) {
          return aliases(
              current, current.material().keyManager().getServerAliases(keyType, issuers));
        }

        @Override
        public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
          Generation now = current;
          return tagged(
              now, now.material().keyManager().chooseServerAlias(keyType, issuers, socket));
        }

        @Override
        public String chooseEngineClientAlias(
            String[] keyType, Principal[] issuers, SSLEngine engine) {
          Generation now = current;
          return tagged(
              now, now.material().keyManager().chooseEngineClientAlias(keyType, issuers, engine));
        }

        @Override
        public String chooseEngineServerAlias(
            String keyType, Principal[] issuers, SSLEngine engine) {
          Generation now = current;
          return tagged(
              now, now.material().keyManager().chooseEngineServerAlias(keyType, issuers, engine));
        }

        @Override
        public X509Certificate[] getCertificateChain(String alias) {
          Resolved resolved = resolve(alias);
          return resolved == null
              ? null
              : resolved.keyManager().getCertificateChain(resolved.alias());
        }

        @Override
        public PrivateKey getPrivateKey(String alias) {
          Resolved resolved = resolve(alias);
          return resolved == null ? null : resolved.keyManager().getPrivateKey(resolved.alias());
        }
      };

  private static String[] aliases(Generation generation, String[] aliases) {
    if (aliases == null) {
      return null;
    }
    String[] tagged = new String[aliases.length];
    for (int i = 0; i < aliases.length; i++) {
      tagged[i] = tagged(generation, aliases[i]);
    }
    return tagged;
  }

  private final X509ExtendedTrustManager clientTrustManager =
      new CurrentTrustManager(Listener.CLIENT);
  private final X509ExtendedTrustManager peerTrustManager = new CurrentTrustManager(Listener.PEER);

  /**
   * Checks against the newest generation's CA; on the peer listener, also that a dialer is a node.
   * A refusal is counted where the handshake fails (the peer transport and the client listener's
   * negotiator count every failed handshake).
   */
  private final class CurrentTrustManager extends X509ExtendedTrustManager {
    private final Listener listener;

    CurrentTrustManager(Listener listener) {
      this.listener = listener;
    }

    private X509ExtendedTrustManager trust() {
      return current.material().trustManager();
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType)
        throws CertificateException {
      trust().checkClientTrusted(chain, authType);
      checkNode(chain);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
        throws CertificateException {
      trust().checkClientTrusted(chain, authType, socket);
      checkNode(chain);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      trust().checkClientTrusted(chain, authType, engine);
      checkNode(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType)
        throws CertificateException {
      trust().checkServerTrusted(chain, authType);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
        throws CertificateException {
      trust().checkServerTrusted(chain, authType, socket);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      trust().checkServerTrusted(chain, authType, engine);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return new X509Certificate[0]; // see the class notes: no CA names are sent
    }

    private void checkNode(X509Certificate[] chain) throws CertificateException {
      if (listener != Listener.PEER) {
        return;
      }
      if (!isNodeCertificate(chain[0])) {
        throw new CertificateException(
            "peer certificate "
                + chain[0].getSubjectX500Principal()
                + " is not a node certificate (serverAuth not among its extended key usages)");
      }
    }
  }
}
