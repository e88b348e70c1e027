package io.ringkv.server.auth;

import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * The user name a client certificate carries: the common name (CN) of the subject of the peer's
 * leaf certificate. Only a certificate the TLS handshake verified against the cluster's CA reaches
 * here (the session has no peer certificates otherwise).
 */
public final class CertificateNames {
  private CertificateNames() {}

  /** The CN of the verified client certificate of {@code session}, or null when there is none. */
  public static String clientName(SSLSession session) {
    X509Certificate leaf = peerLeaf(session);
    return leaf == null ? null : commonName(leaf);
  }

  /** The verified leaf certificate the peer of {@code session} presented, or null. */
  public static X509Certificate peerLeaf(SSLSession session) {
    if (session == null) {
      return null;
    }
    Certificate[] chain;
    try {
      chain = session.getPeerCertificates();
    } catch (SSLPeerUnverifiedException e) {
      return null; // TLS without a client certificate
    }
    return chain.length > 0 && chain[0] instanceof X509Certificate leaf ? leaf : null;
  }

  /** The subject's CN (the most specific one if several), or null. */
  static String commonName(X509Certificate certificate) {
    try {
      LdapName name = new LdapName(certificate.getSubjectX500Principal().getName());
      String found = null;
      for (Rdn rdn : name.getRdns()) { // least specific first
        if (rdn.getType().equalsIgnoreCase("CN")) {
          found = rdn.getValue().toString();
        }
      }
      return found;
    } catch (InvalidNameException e) {
      return null;
    }
  }
}
