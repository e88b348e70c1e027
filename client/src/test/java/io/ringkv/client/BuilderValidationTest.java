package io.ringkv.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Proves the builder rejects every bad setting at build() with a message naming it. */
class BuilderValidationTest {
  @Test
  void endpointsAreRequired() {
    assertThatThrownBy(() -> RingKvClient.builder().build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("at least one endpoint");
  }

  @Test
  void malformedEndpointsAreNamed() {
    assertThatThrownBy(() -> RingKvClient.builder().endpoints("127.0.0.11").build())
        .hasMessageContaining("'127.0.0.11'")
        .hasMessageContaining("host:port");
    assertThatThrownBy(() -> RingKvClient.builder().endpoints("h:99999").build())
        .hasMessageContaining("1..65535");
    assertThatThrownBy(() -> RingKvClient.builder().endpoints("h:x").build())
        .hasMessageContaining("port is not a number");
    assertThatThrownBy(() -> RingKvClient.builder().endpoints("::1:7379").build())
        .hasMessageContaining("brackets");
  }

  @Test
  void durationsAndSizesAreChecked() {
    RingKvClient.Builder base = RingKvClient.builder().endpoints("127.0.0.11:7379");
    assertThatThrownBy(() -> base.deadline(Duration.ZERO).build()).hasMessageContaining("deadline");
    base.deadline(Duration.ofSeconds(1));
    assertThatThrownBy(() -> base.attemptTimeout(Duration.ofMillis(-1)).build())
        .hasMessageContaining("attempt timeout");
    base.attemptTimeout(Duration.ofSeconds(1));
    assertThatThrownBy(() -> base.backoff(Duration.ofSeconds(2), Duration.ofSeconds(1)).build())
        .hasMessageContaining("max backoff");
    base.backoff(Duration.ofMillis(10), Duration.ofMillis(100));
    assertThatThrownBy(() -> base.scanPageSize(0).build()).hasMessageContaining("scan page size");
    base.scanPageSize(10);
    assertThatThrownBy(() -> base.idleSessionsMax(0).build())
        .hasMessageContaining("idle sessions max");
  }

  @Test
  void validSettingsBuildAndNormaliseEndpoints() {
    try (RingKvClient client =
        RingKvClient.builder()
            .endpoints(" 127.0.0.11:7379", "127.0.0.11:7379", "[::1]:7379")
            .build()) {
      assertThat(client.endpoints()).containsExactly("127.0.0.11:7379", "[::1]:7379");
    }
  }

  @Test
  void badKeysFailBeforeAnythingIsSent() {
    try (RingKvClient client = RingKvClient.builder().endpoints("127.0.0.11:7379").build()) {
      assertThatThrownBy(() -> client.get(new byte[0])).hasMessageContaining("empty");
      assertThatThrownBy(
              () -> client.put(new byte[RingKvClient.KEY_SIZE_BYTES_MAX + 1], new byte[0]))
          .hasMessageContaining("key-size-bytes-max");
      assertThatThrownBy(() -> client.txn().commit()).hasMessageContaining("at least one");
      assertThat(client.sessions().inUseCount()).isZero();
    }
  }
}
