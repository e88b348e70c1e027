package io.ringkv.storage;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.WriteBatch;

/**
 * Measures what verifying every SST block checksum at open costs (the {@code verifyChecksumsOnOpen}
 * setting), on a store of {@code -Dstorage.openCost.mb=N} MiB of incompressible data in SST files:
 * prints the open time with and without the check, best of a few runs. A measurement, not a check
 * of the build: it only runs when the property is set. Randomized content; the seed is printed.
 */
@EnabledIfSystemProperty(named = "storage.openCost.mb", matches = "\\d+")
class OpenChecksumCostTest {
  private static final int VALUE_SIZE_BYTES = 4096;
  private static final int RECORDS_PER_BATCH = 256;
  private static final int RUNS = 3;

  @TempDir Path directory;

  @Test
  void measureOpenWithAndWithoutChecksumVerification() {
    long sizeBytes = Long.getLong("storage.openCost.mb") * 1024 * 1024;
    long seed = Long.getLong("storage.openCost.seed", 42);
    System.out.println("OpenChecksumCostTest seed " + seed);
    fill(sizeBytes, new SplittableRandom(seed));
    long withMillis = Long.MAX_VALUE;
    long withoutMillis = Long.MAX_VALUE;
    for (int run = 0; run < RUNS; run++) {
      withoutMillis = Math.min(withoutMillis, openMillis(false));
      withMillis = Math.min(withMillis, openMillis(true));
    }
    System.out.printf(
        "OpenChecksumCostTest: %d MiB in SSTs: open %d ms without checksum verification, %d ms"
            + " with it (best of %d, page cache warm)%n",
        sizeBytes >> 20, withoutMillis, withMillis, RUNS);
    assertThat(withMillis).isPositive();
  }

  private void fill(long sizeBytes, SplittableRandom random) {
    try (StorageEngine engine = TestStores.open(directory)) {
      Store store = engine.store();
      byte[] value = new byte[VALUE_SIZE_BYTES];
      long records = sizeBytes / VALUE_SIZE_BYTES;
      for (long first = 0; first < records; first += RECORDS_PER_BATCH) {
        try (WriteBatch batch = new WriteBatch()) {
          for (long record = first;
              record < Math.min(records, first + RECORDS_PER_BATCH);
              record++) {
            random.nextBytes(value);
            batch.put(store.data, ByteBuffer.allocate(8).putLong(record).array(), value);
          }
          store.write(batch, false);
        } catch (org.rocksdb.RocksDBException e) {
          throw store.failure("fill", e);
        }
      }
      engine.flushAll();
    }
  }

  private long openMillis(boolean verify) {
    long start = System.nanoTime();
    try (StorageEngine engine =
        StorageEngine.open(TestStores.options(directory).verifyChecksumsOnOpen(verify).build())) {
      return (System.nanoTime() - start) / 1_000_000;
    }
  }
}
