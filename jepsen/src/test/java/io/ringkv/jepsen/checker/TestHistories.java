package io.ringkv.jepsen.checker;

import io.ringkv.jepsen.history.HistoryReader;
import io.ringkv.jepsen.history.MalformedEdnException;
import io.ringkv.jepsen.history.Op;
import java.util.List;

/** Short histories for tests: one line per entry, "process type f value", value in EDN. */
final class TestHistories {
  private TestHistories() {}

  /**
   * Parses lines such as {@code "0 invoke cas [1 2]"} or {@code "nemesis info kill nil"} into a
   * history, through the real EDN history reader.
   */
  static List<Op> history(String... lines) {
    StringBuilder edn = new StringBuilder();
    for (String line : lines) {
      String[] parts = line.trim().split("\\s+", 4);
      if (parts.length != 4) {
        throw new IllegalArgumentException("want 'process type f value': " + line);
      }
      String process = parts[0].matches("\\d+") ? parts[0] : ":" + parts[0];
      edn.append(
          String.format(
              "{:process %s :type :%s :f :%s :value %s}%n", process, parts[1], parts[2], parts[3]));
    }
    try {
      return HistoryReader.read(edn.toString(), "test history");
    } catch (MalformedEdnException e) {
      throw new IllegalArgumentException(e);
    }
  }
}
