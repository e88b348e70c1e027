package io.ringkv.jepsen.harness.client;

import static org.assertj.core.api.Assertions.assertThat;

import io.ringkv.jepsen.history.OpType;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Proves the Java-client adapter's outcome mapping where no node answers (a real closed port on
 * loopback, nothing scripted): a read that fails is {@code :fail}, and a write or cas whose client
 * call fails is {@code :info}, never {@code :fail}, even though the client calls it unavailable.
 * The successful paths run against real nodes in TestRunnerEndToEndTest.
 */
class JavaKvClientTest {
  static final List<String> NOBODY = List.of("127.0.0.98:7379");

  @Test
  @Timeout(30)
  void failuresWithoutANodeAreFailForReadsAndInfoForWrites() {
    try (JavaKvClient client = new JavaKvClient(NOBODY, Duration.ofMillis(500))) {
      assertThat(client.read("k").type()).isEqualTo(OpType.FAIL);
      assertThat(client.scanKeys("p/").type()).isEqualTo(OpType.FAIL);
      Outcome write = client.write("k", "1");
      assertThat(write.type()).isEqualTo(OpType.INFO);
      assertThat(write.harnessError()).isFalse();
      assertThat(write.error()).isNotBlank();
      assertThat(client.compareAndSet("k", "1", "2").type()).isEqualTo(OpType.INFO);
      assertThat(client.compareAndSet("k", null, "2").type()).isEqualTo(OpType.INFO);
    }
  }
}
