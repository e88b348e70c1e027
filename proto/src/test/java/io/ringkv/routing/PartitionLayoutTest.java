package io.ringkv.routing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Proves that {@link PartitionLayout} cuts the unsigned hash space into P contiguous ranges that
 * cover it exactly, that every hash lands in the partition whose range holds it, and that invalid
 * partition counts are refused.
 */
class PartitionLayoutTest {
  @Test
  void rejectsCountsThatAreNotPowersOfTwoInRange() {
    for (int count : new int[] {0, -1, 3, 6, 100, PartitionLayout.PARTITION_COUNT_MAX * 2}) {
      assertThatThrownBy(() -> PartitionLayout.of(count))
          .as("count %d", count)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("power of two");
    }
  }

  @Test
  void singlePartitionCoversTheWholeSpace() {
    PartitionLayout layout = PartitionLayout.of(1);
    assertThat(layout.rangeStart(0)).isZero();
    assertThat(layout.rangeEnd(0)).isEqualTo(-1L); // 2^64 - 1 unsigned
    assertThat(layout.partitionOfHash(0)).isZero();
    assertThat(layout.partitionOfHash(-1L)).isZero();
    assertThat(layout.partitionOfHash(Long.MIN_VALUE)).isZero();
  }

  @Test
  void fourPartitionsHaveTheExpectedBounds() {
    PartitionLayout layout = PartitionLayout.of(4);
    assertThat(Long.toUnsignedString(layout.rangeStart(1))).isEqualTo("4611686018427387904");
    assertThat(layout.rangeEnd(0)).isEqualTo(0x3FFFFFFFFFFFFFFFL);
    assertThat(layout.rangeStart(2)).isEqualTo(0x8000000000000000L);
    assertThat(layout.rangeEnd(3)).isEqualTo(0xFFFFFFFFFFFFFFFFL);
    assertThat(layout.partitionOfHash(0x7FFFFFFFFFFFFFFFL)).isEqualTo(1);
    assertThat(layout.partitionOfHash(0x8000000000000000L)).isEqualTo(2);
  }

  @Test
  void rangesAreContiguousAndCoverTheSpaceForEveryCount() {
    for (int count = 1; count <= PartitionLayout.PARTITION_COUNT_MAX; count *= 2) {
      PartitionLayout layout = PartitionLayout.of(count);
      assertThat(layout.rangeStart(0)).isZero();
      assertThat(layout.rangeEnd(count - 1)).isEqualTo(-1L);
      int step = Math.max(1, count / 64);
      for (int partition = 0; partition + 1 < count; partition += step) {
        assertThat(layout.rangeEnd(partition) + 1).isEqualTo(layout.rangeStart(partition + 1));
        assertThat(Long.compareUnsigned(layout.rangeStart(partition), layout.rangeEnd(partition)))
            .isNegative();
        assertThat(layout.partitionOfHash(layout.rangeStart(partition))).isEqualTo(partition);
        assertThat(layout.partitionOfHash(layout.rangeEnd(partition))).isEqualTo(partition);
      }
    }
  }

  @Test
  void randomHashesLandInsideTheirPartitionsRange() {
    long seed = System.nanoTime();
    System.out.println("PartitionLayoutTest seed " + seed);
    SplittableRandom random = new SplittableRandom(seed);
    PartitionLayout layout = PartitionLayout.of(256);
    for (int i = 0; i < 10_000; i++) {
      long hash = random.nextLong();
      int partition = layout.partitionOfHash(hash);
      assertThat(Long.compareUnsigned(hash, layout.rangeStart(partition)))
          .as("seed %d hash %s", seed, Long.toUnsignedString(hash))
          .isGreaterThanOrEqualTo(0);
      assertThat(Long.compareUnsigned(hash, layout.rangeEnd(partition))).isLessThanOrEqualTo(0);
    }
  }

  @Test
  void keysWithTheSameTagShareAPartition() {
    PartitionLayout layout = PartitionLayout.of(1024);
    int partition = layout.partitionOfKey("{order-7}:header".getBytes(StandardCharsets.UTF_8));
    for (int line = 0; line < 50; line++) {
      byte[] key = ("{order-7}:line:" + line).getBytes(StandardCharsets.UTF_8);
      assertThat(layout.partitionOfKey(key)).isEqualTo(partition);
    }
  }

  @Test
  void rejectsPartitionIdsOutsideTheLayout() {
    PartitionLayout layout = PartitionLayout.of(8);
    assertThatThrownBy(() -> layout.rangeStart(8)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> layout.rangeEnd(-1)).isInstanceOf(IllegalArgumentException.class);
  }
}
