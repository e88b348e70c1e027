package io.ringkv.server.config;

/**
 * A cluster member as configured: {@code id@host:clientPort:peerPort} (ports optional, IPv6 hosts
 * in brackets). Members advertise one host for both addresses.
 */
public record Member(long nodeId, HostPort clientAddress, HostPort peerAddress) {
  public Member {
    if (nodeId <= 0) {
      throw new IllegalArgumentException("node id must be > 0, got " + nodeId);
    }
  }

  /** Parses one member; throws IllegalArgumentException with a message saying what is wrong. */
  public static Member parse(String text, int defaultClientPort, int defaultPeerPort) {
    String trimmed = text.trim();
    int at = trimmed.indexOf('@');
    if (at <= 0) {
      throw new IllegalArgumentException(
          "member '" + text + "' must look like id@host[:clientPort[:peerPort]]");
    }
    long nodeId;
    try {
      nodeId = Long.parseLong(trimmed.substring(0, at));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("member '" + text + "' has a non-numeric node id");
    }
    String address = trimmed.substring(at + 1);
    String[] split = HostPort.splitHost(address, text);
    String host = split[0];
    String ports = split[1];
    if (host.isEmpty()) {
      throw new IllegalArgumentException("member '" + text + "' has no host");
    }
    int clientPort = defaultClientPort;
    int peerPort = defaultPeerPort;
    if (!ports.isEmpty()) {
      String[] parts = ports.substring(1).split(":", -1);
      if (parts.length > 2) {
        throw new IllegalArgumentException(
            "member '" + text + "' must look like id@host[:clientPort[:peerPort]]");
      }
      clientPort = parsePort(parts[0], text);
      if (parts.length == 2) {
        peerPort = parsePort(parts[1], text);
      }
    }
    return new Member(nodeId, new HostPort(host, clientPort), new HostPort(host, peerPort));
  }

  private static int parsePort(String text, String member) {
    try {
      return Integer.parseInt(text);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("member '" + member + "' has a bad port '" + text + "'");
    }
  }

  @Override
  public String toString() {
    return nodeId + "@" + clientAddress + ":" + peerAddress.port();
  }
}
