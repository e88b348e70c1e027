package io.ringkv.server.tls;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * One loaded generation of a node's TLS files: the key manager that presents the node's certificate
 * and the trust manager that checks the other side against the cluster CA, built from the files'
 * bytes (kept, so a later poll can tell whether anything changed).
 *
 * @param leaf the node's own certificate
 * @param files the certificate, key and CA file contents this was built from
 */
record TlsMaterial(
    X509ExtendedKeyManager keyManager,
    X509ExtendedTrustManager trustManager,
    X509Certificate leaf,
    Files files) {

  /** The raw contents of the three files. */
  record Files(byte[] cert, byte[] key, byte[] ca) {
    boolean sameAs(Files other) {
      return other != null
          && Arrays.equals(cert, other.cert)
          && Arrays.equals(key, other.key)
          && Arrays.equals(ca, other.ca);
    }
  }

  private static final char[] NO_PASSWORD = new char[0];
  private static final byte[] KEY_PROBE =
      "ringkv key matches certificate".getBytes(StandardCharsets.US_ASCII);

  /**
   * Builds material from file contents; refuses a key that does not belong to the leaf certificate
   * (as happens between writing the new certificate and the new key), so a half-replaced pair is
   * never put to use.
   */
  static TlsMaterial load(Files files) throws GeneralSecurityException, java.io.IOException {
    List<X509Certificate> chain = PemFiles.certificates(files.cert(), "the certificate file");
    PrivateKey key = PemFiles.privateKey(files.key(), "the key file");
    List<X509Certificate> authorities = PemFiles.certificates(files.ca(), "the CA file");
    checkKeyMatches(key, chain.get(0));

    KeyStore keys = KeyStore.getInstance("PKCS12");
    keys.load(null, null);
    keys.setKeyEntry("node", key, NO_PASSWORD, chain.toArray(new X509Certificate[0]));
    KeyManagerFactory keyFactory = KeyManagerFactory.getInstance("PKIX");
    keyFactory.init(keys, NO_PASSWORD);

    KeyStore trusted = KeyStore.getInstance("PKCS12");
    trusted.load(null, null);
    for (int i = 0; i < authorities.size(); i++) {
      trusted.setCertificateEntry("ca-" + i, authorities.get(i));
    }
    TrustManagerFactory trustFactory = TrustManagerFactory.getInstance("PKIX");
    trustFactory.init(trusted);
    return new TlsMaterial(
        only(keyFactory.getKeyManagers(), X509ExtendedKeyManager.class),
        only(trustFactory.getTrustManagers(), X509ExtendedTrustManager.class),
        chain.get(0),
        files);
  }

  private static void checkKeyMatches(PrivateKey key, X509Certificate leaf)
      throws GeneralSecurityException {
    String algorithm =
        switch (key.getAlgorithm()) {
          case "RSA" -> "SHA256withRSA";
          case "EC" -> "SHA256withECDSA";
          default -> key.getAlgorithm(); // Ed25519 and Ed448 name their own signature
        };
    Signature signer = Signature.getInstance(algorithm);
    signer.initSign(key);
    signer.update(KEY_PROBE);
    byte[] signature = signer.sign();
    Signature verifier = Signature.getInstance(algorithm);
    verifier.initVerify(leaf.getPublicKey());
    verifier.update(KEY_PROBE);
    if (!verifier.verify(signature)) {
      throw new GeneralSecurityException(
          "the key file does not hold the private key of the certificate "
              + leaf.getSubjectX500Principal());
    }
  }

  private static <T> T only(Object[] managers, Class<T> type) throws GeneralSecurityException {
    for (Object manager : managers) {
      if (type.isInstance(manager)) {
        return type.cast(manager);
      }
    }
    throw new GeneralSecurityException("the JDK offers no " + type.getSimpleName());
  }
}
