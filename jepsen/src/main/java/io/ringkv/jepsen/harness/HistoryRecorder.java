package io.ringkv.jepsen.harness;

import io.ringkv.jepsen.Invariants;
import io.ringkv.jepsen.history.HistoryWriter;
import io.ringkv.jepsen.history.Keyword;
import io.ringkv.jepsen.history.Op;
import io.ringkv.jepsen.history.OpType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * The test's history, appended by every client thread and the nemesis: each entry gets the next
 * {@code :index} and its {@code :time} in nanoseconds since the recorder was made, is kept in
 * memory for the checkers and written through to {@code history.edn} (flushed each entry, so a
 * crashed run still leaves a readable history).
 */
public final class HistoryRecorder implements AutoCloseable {
  public static final Keyword ERROR = Keyword.of("error");
  public static final Keyword NEMESIS = Keyword.of("nemesis");

  private final HistoryWriter writer;
  private final LongSupplier nanoClock;
  private final long startNanos;
  private final List<Op> ops = new ArrayList<>();
  private long lastTimeNanos;

  /** A recorder writing to {@code file}, reading time from {@code nanoClock}. */
  public HistoryRecorder(Path file, LongSupplier nanoClock) throws IOException {
    this.writer = new HistoryWriter(Files.newBufferedWriter(file, StandardCharsets.UTF_8));
    this.nanoClock = nanoClock;
    this.startNanos = nanoClock.getAsLong();
  }

  /** Nanoseconds since the recorder started. */
  public long elapsedNanos() {
    return nanoClock.getAsLong() - startNanos;
  }

  /** Records an invocation by {@code process}. */
  public Op invoke(Object process, Keyword f, Object value) {
    return append(process, OpType.INVOKE, f, value, null);
  }

  /**
   * Records a nemesis event: Jepsen writes both halves of a nemesis operation as {@code :info}
   * entries of process {@code :nemesis}, the second carrying what was done.
   */
  public Op nemesis(Keyword f, Object value, String error) {
    return append(NEMESIS, OpType.INFO, f, value, error);
  }

  /** Records a completion; {@code error} (may be null) goes into {@code :error}. */
  public Op complete(Object process, OpType type, Keyword f, Object value, String error) {
    return append(process, type, f, value, error);
  }

  private synchronized Op append(
      Object process, OpType type, Keyword f, Object value, String error) {
    Map<Object, Object> extra = new LinkedHashMap<>();
    if (error != null) {
      extra.put(ERROR, error);
    }
    Op op = new Op(ops.size(), process, type, f, value, elapsedNanos(), extra);
    Invariants.check(
        op.timeNanos() >= lastTimeNanos,
        "history time went back: %d after %d",
        op.timeNanos(),
        lastTimeNanos);
    lastTimeNanos = op.timeNanos();
    ops.add(op);
    try {
      writer.append(op);
      writer.flush();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the history", e);
    }
    return op;
  }

  /** A copy of everything recorded so far, in order. */
  public synchronized List<Op> ops() {
    return List.copyOf(ops);
  }

  @Override
  public synchronized void close() throws IOException {
    writer.close();
  }
}
