package io.ringkv.server.transport;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;

/**
 * Proves that the peer transport dials a peer named by host name at the name's current address, not
 * at the one it had when the peer was set: a node that comes back on a new address under its name
 * (a rescheduled Kubernetes pod) is found again. An IP literal is dialed as given. The same
 * behaviour across real processes is the address move in deploy/test/multihost-netns.sh.
 */
class PeerAddressLookupTest {
  @Test
  void aNamedPeerIsLookedUpAgainInsteadOfDialedAtItsOldAddress() throws Exception {
    InetAddress stale = InetAddress.getByAddress("localhost", new byte[] {10, (byte) 247, 15, 13});
    InetSocketAddress dialed = PeerTransport.lookedUpAgain(new InetSocketAddress(stale, 7380));
    assertThat(dialed.isUnresolved()).isFalse();
    assertThat(dialed.getAddress()).isEqualTo(InetAddress.getByName("localhost"));
    assertThat(dialed.getAddress()).isNotEqualTo(stale);
    assertThat(dialed.getPort()).isEqualTo(7380);
  }

  @Test
  void anIpLiteralIsDialedAsGiven() {
    InetSocketAddress given = new InetSocketAddress("10.247.15.13", 7380);
    assertThat(PeerTransport.lookedUpAgain(given)).isEqualTo(given);
  }
}
