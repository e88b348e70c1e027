package io.ringkv.client.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.ringkv.client.InMemoryKv;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Proves ringctl's key commands, their output (table and JSON) and exit codes (0 ok, 1 not found or
 * compare failed, 2 error) in-process, against {@link InMemoryKv} on a real gRPC port.
 */
class RingCtlTest {
  record Run(int exitCode, String out, String err) {}

  private InMemoryKv kv;
  private String endpoint;

  @BeforeEach
  void start() throws Exception {
    kv = new InMemoryKv();
    endpoint = kv.start();
  }

  @AfterEach
  void stop() {
    kv.close();
  }

  private Run ringctl(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    String[] full = new String[args.length + 2];
    full[0] = "--endpoints";
    full[1] = endpoint;
    System.arraycopy(args, 0, full, 2, args.length);
    int code = RingCtl.run(new PrintWriter(out), new PrintWriter(err), full);
    return new Run(code, out.toString(), err.toString());
  }

  @Test
  void putGetDelete() {
    assertThat(ringctl("put", "k", "hello"))
        .extracting(Run::exitCode, Run::out)
        .containsExactly(0, "OK revision 1\n");
    assertThat(ringctl("get", "k"))
        .extracting(Run::exitCode, Run::out)
        .containsExactly(0, "hello\n");
    Run json = ringctl("--output", "json", "get", "k");
    assertThat(json.out())
        .isEqualTo(
            "{\"key\":\"k\",\"value\":\"hello\",\"create_revision\":1,\"mod_revision\":1,\"version\":1}\n");
    assertThat(ringctl("del", "k").exitCode()).isZero();
    Run missing = ringctl("get", "k");
    assertThat(missing.exitCode()).isEqualTo(1);
    assertThat(missing.err()).contains("key 'k' not found");
    assertThat(ringctl("del", "k").exitCode()).isEqualTo(1);
  }

  @Test
  void compareAndSet() {
    ringctl("put", "k", "a");
    Run failed = ringctl("cas", "k", "b", "c");
    assertThat(failed.exitCode()).isEqualTo(1);
    assertThat(failed.err()).contains("compare failed");
    assertThat(ringctl("cas", "k", "a", "c").exitCode()).isZero();
    assertThat(ringctl("get", "k").out()).isEqualTo("c\n");
  }

  @Test
  void scanListsInOrderUpToTheLimit() {
    for (int i = 11; i >= 0; i--) {
      ringctl("put", String.format("p/%02d", i), "v" + i);
    }
    Run scan = ringctl("scan", "--prefix", "p/", "--limit", "5");
    assertThat(scan.exitCode()).isZero();
    assertThat(scan.out().lines().toList())
        .containsExactly("p/00\tv0", "p/01\tv1", "p/02\tv2", "p/03\tv3", "p/04\tv4");
    Run json = ringctl("--output", "json", "scan", "--prefix", "p/1", "--limit", "10");
    assertThat(json.out())
        .startsWith("[{\"key\":\"p/10\"")
        .contains("\"key\":\"p/11\"")
        .doesNotContain("p/09");
  }

  @Test
  void usageErrorsExitTwo() {
    assertThat(ringctl("get").exitCode()).isEqualTo(2);
    assertThat(ringctl("scan", "--prefix", "p", "--limit", "0").exitCode()).isEqualTo(2);
    Run badEndpoint = new RingCtlTest().runWith("--endpoints", "nonsense", "get", "k");
    assertThat(badEndpoint.exitCode()).isEqualTo(2);
    assertThat(badEndpoint.err()).contains("host:port");
  }

  private Run runWith(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = RingCtl.run(new PrintWriter(out), new PrintWriter(err), args);
    return new Run(code, out.toString(), err.toString());
  }
}
