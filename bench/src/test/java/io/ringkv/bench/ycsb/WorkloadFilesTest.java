package io.ringkv.bench.ycsb;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import site.ycsb.measurements.Measurements;
import site.ycsb.workloads.CoreWorkload;

/**
 * Proves that the six workload files under bench/workloads parse, are accepted by YCSB's own
 * CoreWorkload, use the machine-sized counts, and have operation proportions that add up to one.
 */
class WorkloadFilesTest {
  private static final Path DIR = Path.of("workloads");
  private static final List<String> PROPORTIONS =
      List.of(
          "readproportion",
          "updateproportion",
          "scanproportion",
          "insertproportion",
          "readmodifywriteproportion");

  private static Properties load(String name) throws Exception {
    Properties properties = new Properties();
    try (Reader reader = Files.newBufferedReader(DIR.resolve("workload" + name))) {
      properties.load(reader);
    }
    return properties;
  }

  @ParameterizedTest
  @ValueSource(strings = {"a", "b", "c", "d", "e", "f"})
  void parsesAndCoreWorkloadAcceptsIt(String name) throws Exception {
    Properties properties = load(name);
    assertThat(properties.getProperty("workload")).isEqualTo(CoreWorkload.class.getName());
    assertThat(properties.getProperty("recordcount")).isEqualTo("10000");
    assertThat(properties.getProperty("operationcount")).isEqualTo("50000");
    double sum = 0;
    for (String proportion : PROPORTIONS) {
      sum += Double.parseDouble(properties.getProperty(proportion, "0"));
    }
    assertThat(sum).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-9));

    // CoreWorkload registers its measurements, which read the same properties.
    Measurements.setProperties(properties);
    CoreWorkload workload = new CoreWorkload();
    workload.init(properties);
    workload.cleanup();
  }

  @Test
  void theWorkloadsDiffer() throws Exception {
    assertThat(load("a").getProperty("updateproportion")).isEqualTo("0.5");
    assertThat(load("c").getProperty("readproportion")).isEqualTo("1");
    assertThat(load("e").getProperty("scanproportion")).isEqualTo("0.95");
    assertThat(load("d").getProperty("requestdistribution")).isEqualTo("latest");
  }
}
