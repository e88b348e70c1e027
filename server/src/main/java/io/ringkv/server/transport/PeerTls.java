package io.ringkv.server.transport;

import io.netty.handler.ssl.SslContext;

/**
 * TLS of the peer transport: every connection, accepted or dialed, starts with a mutual TLS
 * handshake before the ringkv handshake; a plaintext or untrusted peer never gets a frame through.
 */
public interface PeerTls {
  /** Context of accepted connections; it requires and checks the dialer's certificate. */
  SslContext serverContext();

  /** Context of dialed connections; it checks the acceptor's certificate and host name. */
  SslContext clientContext();

  /** Told of every TLS handshake that failed, on either side (counted, not rethrown). */
  void handshakeFailed(Throwable cause);
}
