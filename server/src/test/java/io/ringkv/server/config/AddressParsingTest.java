package io.ringkv.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/**
 * Proves the address forms a user may write: host:port, bare host, :port, bracketed IPv6, and
 * member entries id@host[:clientPort[:peerPort]]; and that malformed forms are refused.
 */
class AddressParsingTest {
  @Test
  void parsesEveryAcceptedAddressForm() {
    assertThat(HostPort.parse("127.0.0.11:7000", "h", 1))
        .isEqualTo(new HostPort("127.0.0.11", 7000));
    assertThat(HostPort.parse("127.0.0.11", "h", 1)).isEqualTo(new HostPort("127.0.0.11", 1));
    assertThat(HostPort.parse(":9", "h", 1)).isEqualTo(new HostPort("h", 9));
    assertThat(HostPort.parse("[::1]:7379", "h", 1)).isEqualTo(new HostPort("::1", 7379));
    assertThat(HostPort.parse("[::1]", "h", 5)).isEqualTo(new HostPort("::1", 5));
    assertThat(new HostPort("::1", 7379).toString()).isEqualTo("[::1]:7379");
    assertThat(new HostPort("0.0.0.0", 1).isWildcard()).isTrue();
  }

  @Test
  void refusesMalformedAddresses() {
    for (String bad : new String[] {"::1:80", "[::1", "[::1]x", "h:", "h:0", "h:65536", "h:x"}) {
      if (bad.equals("h:")) {
        // An empty port means the default port.
        assertThat(HostPort.parse(bad, "d", 3)).isEqualTo(new HostPort("h", 3));
        continue;
      }
      assertThatThrownBy(() -> HostPort.parse(bad, "d", 3))
          .as(bad)
          .isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void parsesMemberEntries() {
    assertThat(Member.parse("3@10.0.0.3:1:2", 7379, 7380))
        .isEqualTo(new Member(3, new HostPort("10.0.0.3", 1), new HostPort("10.0.0.3", 2)));
    assertThat(Member.parse("3@10.0.0.3:1", 7379, 7380).peerAddress().port()).isEqualTo(7380);
    assertThat(Member.parse("4@[fd00::4]:1:2", 7379, 7380).peerAddress())
        .isEqualTo(new HostPort("fd00::4", 2));
    for (String bad : new String[] {"@h", "x@h", "0@h", "1@", "1@h:1:2:3", "1@[h"}) {
      assertThatThrownBy(() -> Member.parse(bad, 7379, 7380))
          .as(bad)
          .isInstanceOf(IllegalArgumentException.class);
    }
  }
}
