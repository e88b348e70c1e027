package io.ringkv.server.config;

import java.net.InetSocketAddress;

/**
 * A host (name or IP literal) and a TCP/UDP port. Parsed from {@code host:port}, {@code [v6]:port},
 * a bare host (default port) or {@code :port} (default host).
 */
public record HostPort(String host, int port) {
  public static final int PORT_MAX = 65_535;

  public HostPort {
    if (host == null || host.isBlank()) {
      throw new IllegalArgumentException("host must not be empty");
    }
    if (port < 1 || port > PORT_MAX) {
      throw new IllegalArgumentException("port must be in [1, " + PORT_MAX + "], got " + port);
    }
  }

  /** Parses {@code text}, filling in {@code defaultHost} / {@code defaultPort} where absent. */
  public static HostPort parse(String text, String defaultHost, int defaultPort) {
    String[] split = splitHost(text.trim(), text);
    String host = split[0];
    String rest = split[1];
    if (rest.indexOf(':', 1) >= 0) {
      throw new IllegalArgumentException(
          "write IPv6 addresses as [address]:port, got '" + text + "'");
    }
    String portText = rest.isEmpty() ? "" : rest.substring(1);
    if (host.isEmpty()) {
      host = defaultHost;
    }
    int port = defaultPort;
    if (!portText.isEmpty()) {
      try {
        port = Integer.parseInt(portText);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(
            "port '" + portText + "' is not a number in '" + text + "'");
      }
    }
    return new HostPort(host, port);
  }

  /**
   * Splits {@code address} into its host (brackets of an IPv6 literal removed) and the rest, which
   * is empty or starts with ':'. {@code original} is quoted in error messages.
   */
  static String[] splitHost(String address, String original) {
    String host;
    String rest;
    if (address.startsWith("[")) {
      int close = address.indexOf(']');
      if (close < 0) {
        throw new IllegalArgumentException("unclosed '[' in '" + original + "'");
      }
      host = address.substring(1, close);
      rest = address.substring(close + 1);
    } else {
      int colon = address.indexOf(':');
      host = colon < 0 ? address : address.substring(0, colon);
      rest = colon < 0 ? "" : address.substring(colon);
    }
    if (!rest.isEmpty() && !rest.startsWith(":")) {
      throw new IllegalArgumentException("expected ':port' after the host in '" + original + "'");
    }
    return new String[] {host, rest};
  }

  public HostPort withHost(String newHost) {
    return new HostPort(newHost, port);
  }

  /** True for 0.0.0.0 and ::, which can be bound but not advertised. */
  public boolean isWildcard() {
    return host.equals("0.0.0.0") || host.equals("::") || host.equals("0:0:0:0:0:0:0:0");
  }

  /** A resolved socket address (resolves host names now). */
  public InetSocketAddress toSocketAddress() {
    return new InetSocketAddress(host, port);
  }

  @Override
  public String toString() {
    return host.indexOf(':') >= 0 ? "[" + host + "]:" + port : host + ":" + port;
  }
}
