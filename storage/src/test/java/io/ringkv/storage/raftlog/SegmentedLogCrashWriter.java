package io.ringkv.storage.raftlog;

import io.ringkv.raft.HardState;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

/**
 * The child process of {@link SegmentedLogCrashTest}: several threads append through the segmented
 * log's group commit to their own groups, entries and hard state in one write, several writes in
 * flight each, and print {@code ACK <group> <index>} only once a write's future completed
 * (durable). Segments are small and groups compact now and then, so rollover and purge are among
 * what a kill interrupts. Stops by itself after {@code writesMax} writes or {@code runMillisMax}.
 *
 * <p>Arguments: directory, seed, threads, groups per thread, writesMax, runMillisMax.
 */
public final class SegmentedLogCrashWriter {
  static final long SEGMENT_SIZE_BYTES = 64 * 1024;
  static final int IN_FLIGHT_PER_THREAD = 8;
  static final int COMPACT_EVERY_WRITES = 300;

  private SegmentedLogCrashWriter() {}

  static SegmentedLogOptions options(Path directory) {
    return SegmentedLogOptions.defaults(directory).withSegmentSizeBytes(SEGMENT_SIZE_BYTES);
  }

  public static void main(String[] arguments) throws Exception {
    Path directory = Path.of(arguments[0]);
    long seed = Long.parseLong(arguments[1]);
    int threads = Integer.parseInt(arguments[2]);
    int groupsPerThread = Integer.parseInt(arguments[3]);
    int writesMax = Integer.parseInt(arguments[4]);
    long deadlineNanos = System.nanoTime() + Long.parseLong(arguments[5]) * 1_000_000;
    try (SegmentedLog log = SegmentedLog.open(options(directory))) {
      Thread[] writers = new Thread[threads];
      for (int t = 0; t < threads; t++) {
        int thread = t;
        Random random = new Random(seed * 31 + thread);
        writers[t] =
            Thread.ofPlatform()
                .start(() ->
                    write(
                        log, random, thread, groupsPerThread, writesMax / threads, deadlineNanos));
      }
      for (Thread writer : writers) {
        writer.join();
      }
    }
  }

  private static void write(
      SegmentedLog log,
      Random random,
      int thread,
      int groupsPerThread,
      int writesMax,
      long deadlineNanos) {
    long[] nextIndex = new long[groupsPerThread];
    for (int slot = 0; slot < groupsPerThread; slot++) {
      // A reopened store: go on after what survived.
      nextIndex[slot] = log.lastIndex(group(thread, groupsPerThread, slot)) + 1;
    }
    ArrayDeque<CompletableFuture<Void>> inFlight = new ArrayDeque<>();
    for (int write = 0; write < writesMax && System.nanoTime() < deadlineNanos; write++) {
      int slot = random.nextInt(groupsPerThread);
      long group = group(thread, groupsPerThread, slot);
      int count = 1 + random.nextInt(3);
      long first = nextIndex[slot];
      long last = first + count - 1;
      nextIndex[slot] = last + 1;
      CompletableFuture<Void> future =
          log.submit(
              List.of(
                  RaftLogFixtures.append(group, first, count, 1),
                  new LogRecord.HardStateMark(group, new HardState(1, 0, last))));
      inFlight.add(future.thenRun(() -> acknowledge(group, first, last)));
      if (inFlight.size() >= IN_FLIGHT_PER_THREAD) {
        inFlight.poll().join();
      }
      if (write % COMPACT_EVERY_WRITES == COMPACT_EVERY_WRITES - 1) {
        inFlight.forEach(CompletableFuture::join);
        inFlight.clear();
        log.compact(group, log.lastIndex(group) / 2).join();
      }
    }
    inFlight.forEach(CompletableFuture::join);
    Arrays.fill(nextIndex, 0);
  }

  static long group(int thread, int groupsPerThread, int slot) {
    return (long) thread * groupsPerThread + slot + 1;
  }

  private static void acknowledge(long group, long first, long last) {
    StringBuilder lines = new StringBuilder();
    for (long index = first; index <= last; index++) {
      lines.append("ACK ").append(group).append(' ').append(index).append('\n');
    }
    synchronized (System.out) {
      System.out.print(lines);
      System.out.flush();
    }
  }
}
