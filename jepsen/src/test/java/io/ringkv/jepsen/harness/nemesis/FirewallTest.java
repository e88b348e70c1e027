package io.ringkv.jepsen.harness.nemesis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Proves the iptables nemesis really cuts a link between two loopback aliases: a TCP connect from a
 * socket bound to 127.0.0.61 to a listener on 127.0.0.62 works, fails while the two are cut, and
 * works again once healed; healing deletes exactly the rules this firewall added (counted by their
 * run comment), and a crashed run's rules are found and removed by that comment alone. Skipped,
 * saying why, when not root or iptables is missing.
 */
class FirewallTest {
  private static final String A = "127.0.0.61";
  private static final String B = "127.0.0.62";
  private static final int CONNECT_TIMEOUT_MILLIS = 500;

  @Test
  @Timeout(60)
  void cutsTrafficBetweenAddressesAndHealsExactlyItsRules() throws Exception {
    assumeTrue(Firewall.available(), "needs root and a working iptables; skipping the cut test");
    String runId = "test" + Long.toString(System.nanoTime(), 36);
    try (ServerSocket listener = new ServerSocket()) {
      listener.bind(new InetSocketAddress(B, 0));
      Thread acceptor = Thread.ofVirtual().start(() -> acceptForever(listener));
      int port = listener.getLocalPort();
      assertThat(connects(A, B, port)).as("before the cut").isTrue();

      Firewall firewall = new Firewall(runId);
      try {
        firewall.cut(A, B);
        assertThat(Firewall.rulesOf(runId)).hasSize(2);
        assertThat(firewall.ruleCount()).isEqualTo(2);
        assertThat(connects(A, B, port)).as("while cut").isFalse();
      } finally {
        firewall.healAll();
      }
      assertThat(Firewall.rulesOf(runId)).isEmpty();
      assertThat(connects(A, B, port)).as("after healing").isTrue();
      acceptor.interrupt();
    }
  }

  @Test
  @Timeout(60)
  void removesACrashedRunsRulesByComment() throws Exception {
    assumeTrue(Firewall.available(), "needs root and a working iptables; skipping");
    String crashed = "crashed" + Long.toString(System.nanoTime(), 36);
    String other = "other" + Long.toString(System.nanoTime(), 36);
    Firewall otherRun = new Firewall(other);
    try {
      new Firewall(crashed).cut(A, B); // never healed: the "crash"
      otherRun.drop(A, B);
      assertThat(Firewall.rulesOf(crashed)).hasSize(2);
      assertThat(Firewall.removeRulesOf(crashed)).isEqualTo(2);
      assertThat(Firewall.rulesOf(crashed)).isEmpty();
      assertThat(Firewall.rulesOf(other)).as("another run's rule is untouched").hasSize(1);
    } finally {
      otherRun.healAll();
      Firewall.removeRulesOf(crashed);
    }
    assertThat(Firewall.rulesOf(other)).isEmpty();
  }

  private static boolean connects(String from, String to, int port) {
    try (Socket socket = new Socket()) {
      socket.bind(new InetSocketAddress(InetAddress.getByName(from), 0));
      socket.connect(new InetSocketAddress(to, port), CONNECT_TIMEOUT_MILLIS);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  private static void acceptForever(ServerSocket listener) {
    while (!listener.isClosed()) {
      try {
        listener.accept().close();
      } catch (IOException e) {
        return;
      }
    }
  }
}
