package io.ringkv.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Proves that settings are validated eagerly, with messages naming the setting and the value. */
class StorageOptionsTest {
  private final Path path = Path.of("unused");

  @Test
  void defaultsAreValid() {
    StorageOptions options = TestStores.options(path).build();
    assertThat(options.keySizeBytesMax()).isEqualTo(StorageOptions.KEY_SIZE_BYTES_MAX_DEFAULT);
    assertThat(options.commitQueueWritesMax())
        .isGreaterThanOrEqualTo(options.commitBatchWritesMax());
  }

  @Test
  void nonPositiveLimitsNameTheSetting() {
    assertThatThrownBy(() -> TestStores.options(path).keySizeBytesMax(0).build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("keySizeBytesMax must be > 0, got 0");
    assertThatThrownBy(() -> TestStores.options(path).batchEntriesMax(-3).build())
        .hasMessage("batchEntriesMax must be > 0, got -3");
    assertThatThrownBy(() -> TestStores.options(path).changefeedRetentionAge(Duration.ZERO).build())
        .hasMessageContaining("changefeedRetentionAge");
  }

  @Test
  void logCacheBoundsMayBeZeroButNotNegative() {
    StorageOptions off =
        TestStores.options(path).logCacheEntriesMax(0).logCacheSizeBytesMax(0).build();
    assertThat(off.logCacheEntriesMax()).isZero();
    assertThat(TestStores.options(path).build().logCacheSizeBytesMax())
        .isEqualTo(StorageOptions.LOG_CACHE_SIZE_BYTES_MAX_DEFAULT);
    assertThatThrownBy(() -> TestStores.options(path).logCacheEntriesMax(-1).build())
        .hasMessage("logCacheEntriesMax must be >= 0, got -1");
    assertThatThrownBy(() -> TestStores.options(path).logCacheSizeBytesMax(-5).build())
        .hasMessage("logCacheSizeBytesMax must be >= 0, got -5");
  }

  @Test
  void relationsBetweenLimitsAreChecked() {
    assertThatThrownBy(() ->
            TestStores.options(path)
                .keySizeBytesMax(100)
                .valueSizeBytesMax(1000)
                .batchSizeBytesMax(500)
                .build())
        .hasMessageContaining("keySizeBytesMax + valueSizeBytesMax (1100)")
        .hasMessageContaining("batchSizeBytesMax (500)");
    assertThatThrownBy(
            () -> TestStores.options(path).commitQueueWritesMax(8).commitBatchWritesMax(9).build())
        .hasMessageContaining("commitBatchWritesMax (9)");
  }

  @Test
  void identityIsRequired() {
    assertThatThrownBy(() -> StorageOptions.builder(path, " ", 1).build())
        .hasMessageContaining("clusterId");
    assertThatThrownBy(() -> StorageOptions.builder(path, "c", 0).build())
        .hasMessageContaining("nodeId must be > 0");
  }
}
