package io.ringkv.storage;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Reads what a crash-test child JVM acknowledged: lines {@code ACK <group> <index>} on its standard
 * output, kept as the highest acknowledged index per group, until the pipe breaks at the kill.
 */
public final class CrashAcks {
  private CrashAcks() {}

  public static void read(Process child, Map<Long, Long> maxAcked, AtomicInteger acks) {
    try (BufferedReader lines =
        new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
      for (String line = lines.readLine(); line != null; line = lines.readLine()) {
        String[] parts = line.split(" ");
        if (parts.length == 3 && parts[0].equals("ACK")) {
          maxAcked.merge(Long.parseLong(parts[1]), Long.parseLong(parts[2]), Math::max);
          acks.incrementAndGet();
        }
      }
    } catch (IOException e) {
      // The pipe breaks when the child is killed; what was read before is what counts.
    }
  }
}
