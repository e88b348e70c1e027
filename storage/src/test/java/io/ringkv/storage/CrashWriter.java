package io.ringkv.storage;

import io.ringkv.raft.Entry;
import io.ringkv.raft.EntryType;
import io.ringkv.raft.HardState;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

/**
 * The child process of {@link CrashSafetyTest}: several threads append through group commit to
 * their own groups, with several writes in flight each, and print {@code ACK <group> <index>} for
 * each write only once its future completed (durable). It compacts now and then so range deletes
 * are part of what a kill can interrupt. It stops by itself after {@code writesMax} writes or
 * {@code runMillisMax}, in case the parent never kills it.
 *
 * <p>Arguments: directory, seed, threads, groups per thread, writesMax, runMillisMax.
 */
public final class CrashWriter {
  static final int IN_FLIGHT_PER_THREAD = 8;
  static final int COMPACT_EVERY_WRITES = 400;

  private CrashWriter() {}

  public static void main(String[] arguments) throws Exception {
    Path directory = Path.of(arguments[0]);
    long seed = Long.parseLong(arguments[1]);
    int threads = Integer.parseInt(arguments[2]);
    int groupsPerThread = Integer.parseInt(arguments[3]);
    int writesMax = Integer.parseInt(arguments[4]);
    long deadlineNanos = System.nanoTime() + Long.parseLong(arguments[5]) * 1_000_000;
    try (StorageEngine engine = TestStores.open(directory)) {
      Thread[] writers = new Thread[threads];
      for (int t = 0; t < threads; t++) {
        int thread = t;
        writers[t] =
            new Thread(() ->
                write(
                    engine,
                    new Random(seed * 31 + thread),
                    thread,
                    groupsPerThread,
                    writesMax / threads,
                    deadlineNanos));
        writers[t].start();
      }
      for (Thread writer : writers) {
        writer.join();
      }
    }
  }

  private static void write(
      StorageEngine engine,
      Random random,
      int thread,
      int groupsPerThread,
      int writesMax,
      long deadlineNanos) {
    long[] nextIndex = new long[groupsPerThread];
    java.util.Arrays.fill(nextIndex, 1);
    ArrayDeque<CompletableFuture<Void>> inFlight = new ArrayDeque<>();
    for (int write = 0; write < writesMax && System.nanoTime() < deadlineNanos; write++) {
      int slot = random.nextInt(groupsPerThread);
      long group = (long) thread * groupsPerThread + slot + 1;
      int count = 1 + random.nextInt(3);
      long first = nextIndex[slot];
      List<Entry> entries = new java.util.ArrayList<>();
      for (long index = first; index < first + count; index++) {
        entries.add(new Entry(1, index, EntryType.NORMAL, payload(group, index)));
      }
      long last = first + count - 1;
      nextIndex[slot] = last + 1;
      CompletableFuture<Void> future =
          engine.groupCommitter().submit(LogWrite.of(group, entries, new HardState(1, 0, last)));
      inFlight.add(future.thenRun(() -> acknowledge(group, first, last)));
      if (inFlight.size() >= IN_FLIGHT_PER_THREAD) {
        inFlight.poll().join();
      }
      if (write % COMPACT_EVERY_WRITES == COMPACT_EVERY_WRITES - 1) {
        inFlight.forEach(CompletableFuture::join);
        inFlight.clear();
        long durable = engine.raftLog(group).lastIndex();
        engine.raftLog(group).compact(durable / 2);
      }
    }
    inFlight.forEach(CompletableFuture::join);
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

  /** The data every entry carries, so the parent can check content as well as presence. */
  static byte[] payload(long group, long index) {
    String text = "group-" + group + "-index-" + index + "-" + "x".repeat((int) (index % 97));
    return text.getBytes(StandardCharsets.UTF_8);
  }
}
