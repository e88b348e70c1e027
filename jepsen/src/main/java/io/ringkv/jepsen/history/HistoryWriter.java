package io.ringkv.jepsen.history;

import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Writes a history in Jepsen's layout: one op map per line, nothing around them. {@link
 * HistoryReader} reads it back to equal {@link Op}s.
 */
public final class HistoryWriter implements AutoCloseable {
  private final Writer out;

  /** A writer that appends ops to {@code out}; closing it closes {@code out}. */
  public HistoryWriter(Writer out) {
    this.out = out;
  }

  /** Appends one op as one line. */
  public void append(Op op) throws IOException {
    out.write(op.toString());
    out.write('\n');
  }

  /** Flushes what was appended so far (a crashed test still leaves a readable history). */
  public void flush() throws IOException {
    out.flush();
  }

  @Override
  public void close() throws IOException {
    out.close();
  }

  /** Writes {@code ops} to {@code file}, replacing it. */
  public static void write(Path file, List<Op> ops) throws IOException {
    try (HistoryWriter writer =
        new HistoryWriter(Files.newBufferedWriter(file, StandardCharsets.UTF_8))) {
      for (Op op : ops) {
        writer.append(op);
      }
    }
  }

  /** The history as text, one op per line. */
  public static String toText(List<Op> ops) {
    StringBuilder sb = new StringBuilder();
    for (Op op : ops) {
      sb.append(op).append('\n');
    }
    return sb.toString();
  }
}
