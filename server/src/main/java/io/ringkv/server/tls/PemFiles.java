package io.ringkv.server.tls;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads the PEM files a node is given: X.509 certificates (one or more blocks) and one unencrypted
 * PKCS#8 private key. Other key encodings are refused with the openssl command that converts them,
 * so an operator is never left guessing why a key does not load.
 */
final class PemFiles {
  /** Key algorithms a PKCS#8 key is tried as, in order. */
  private static final List<String> KEY_ALGORITHMS = List.of("EC", "RSA", "Ed25519", "Ed448");

  private static final Pattern PRIVATE_KEY =
      Pattern.compile("-----BEGIN PRIVATE KEY-----([A-Za-z0-9+/=\\s]+)-----END PRIVATE KEY-----");

  private PemFiles() {}

  /** Every certificate in {@code pem}; at least one, or the file is refused. */
  static List<X509Certificate> certificates(byte[] pem, String what) throws CertificateException {
    List<X509Certificate> certificates = new ArrayList<>();
    for (Certificate certificate :
        CertificateFactory.getInstance("X.509")
            .generateCertificates(new ByteArrayInputStream(pem))) {
      certificates.add((X509Certificate) certificate);
    }
    if (certificates.isEmpty()) {
      throw new CertificateException(what + " holds no PEM certificate");
    }
    return certificates;
  }

  /** The one PKCS#8 private key in {@code pem}. */
  static PrivateKey privateKey(byte[] pem, String what) throws GeneralSecurityException {
    String text = new String(pem, StandardCharsets.US_ASCII);
    Matcher matcher = PRIVATE_KEY.matcher(text);
    if (!matcher.find()) {
      String hint =
          text.contains("ENCRYPTED PRIVATE KEY")
              ? "it is encrypted"
              : text.contains("RSA PRIVATE KEY") || text.contains("EC PRIVATE KEY")
                  ? "it is in the older PKCS#1/SEC1 form"
                  : "no 'BEGIN PRIVATE KEY' block";
      throw new GeneralSecurityException(
          what
              + " is not an unencrypted PKCS#8 PEM key ("
              + hint
              + "); convert it with: openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pkcs8");
    }
    byte[] der = Base64.getMimeDecoder().decode(matcher.group(1));
    PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(der);
    GeneralSecurityException last = null;
    for (String algorithm : KEY_ALGORITHMS) {
      try {
        return KeyFactory.getInstance(algorithm).generatePrivate(spec);
      } catch (GeneralSecurityException e) {
        last = e;
      }
    }
    throw new GeneralSecurityException(
        what + " holds a key of none of the algorithms " + KEY_ALGORITHMS, last);
  }
}
