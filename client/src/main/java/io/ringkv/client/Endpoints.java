package io.ringkv.client;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;

/** Parsing and checking of {@code host:port} endpoint strings. */
final class Endpoints {
  private Endpoints() {}

  record HostPort(String host, int port) {
    @Override
    public String toString() {
      return host.indexOf(':') >= 0 ? "[" + host + "]:" + port : host + ":" + port;
    }
  }

  /**
   * Parses {@code host:port} (or {@code [v6]:port}).
   *
   * @throws IllegalArgumentException with a message naming the bad endpoint
   */
  static HostPort parse(String endpoint) {
    if (endpoint == null || endpoint.isBlank()) {
      throw new IllegalArgumentException("endpoint must be host:port, got an empty string");
    }
    String text = endpoint.trim();
    int colon = text.lastIndexOf(':');
    if (colon <= 0 || colon == text.length() - 1) {
      throw new IllegalArgumentException("endpoint must be host:port, got '" + endpoint + "'");
    }
    String host = text.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    } else if (host.indexOf(':') >= 0) {
      throw new IllegalArgumentException(
          "endpoint '" + endpoint + "': write IPv6 hosts in brackets, [::1]:7379");
    }
    int port;
    try {
      port = Integer.parseInt(text.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("endpoint '" + endpoint + "': port is not a number", e);
    }
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException(
          "endpoint '" + endpoint + "': port must be in 1..65535, got " + port);
    }
    return new HostPort(host, port);
  }

  /** Parses every endpoint, normalises it and drops duplicates, keeping the order. */
  static List<String> normalise(List<String> endpoints) {
    LinkedHashSet<String> result = new LinkedHashSet<>();
    for (String endpoint : endpoints) {
      result.add(parse(endpoint).toString());
    }
    return new ArrayList<>(result);
  }
}
