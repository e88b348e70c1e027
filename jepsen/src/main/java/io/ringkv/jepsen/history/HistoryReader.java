package io.ringkv.jepsen.history;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads a Jepsen history: either one vector or list of op maps, or op maps one after another with
 * nothing around them (the layout {@link HistoryWriter} writes). Each map becomes an {@link Op};
 * unknown keys are kept, and an absent {@code :index} becomes the entry's position. Errors name the
 * line and column of the offending map or token.
 */
public final class HistoryReader {
  private HistoryReader() {}

  /** Reads the history in {@code file} (UTF-8). */
  public static List<Op> read(Path file) throws IOException, MalformedEdnException {
    return read(Files.readString(file, StandardCharsets.UTF_8), file.toString());
  }

  /** Reads the history in {@code text}; {@code source} names it in error messages. */
  public static List<Op> read(String text, String source) throws MalformedEdnException {
    EdnReader reader = new EdnReader(text, source);
    List<Op> ops = new ArrayList<>();
    if (!reader.hasNextForm()) {
      return ops;
    }
    char first = reader.peek();
    if (first == '[' || first == '(') {
      readWrapped(reader, first == '[' ? ']' : ')', ops);
      if (reader.hasNextForm()) {
        throw reader.error("unexpected text after the history's closing '" + first + "'");
      }
    } else {
      while (reader.hasNextForm()) {
        ops.add(readOp(reader, ops.size()));
      }
    }
    return ops;
  }

  private static void readWrapped(EdnReader reader, char close, List<Op> ops)
      throws MalformedEdnException {
    int openLine = reader.line();
    int openColumn = reader.column();
    reader.advance();
    while (true) {
      if (!reader.hasNextForm()) {
        throw reader.errorAt(openLine, openColumn, "the history's opening bracket is never closed");
      }
      if (reader.peek() == close) {
        reader.advance();
        return;
      }
      ops.add(readOp(reader, ops.size()));
    }
  }

  private static Op readOp(EdnReader reader, int position) throws MalformedEdnException {
    int line = reader.line();
    int column = reader.column();
    Object form = reader.readValue();
    if (!(form instanceof Map<?, ?> map)) {
      throw reader.errorAt(line, column, "expected an op map, found " + describe(form));
    }
    try {
      return toOp(map, position);
    } catch (IllegalArgumentException e) {
      throw reader.errorAt(line, column, e.getMessage());
    }
  }

  /**
   * Turns one op map into an {@link Op}; {@code position} becomes the index when the map has none.
   *
   * @throws IllegalArgumentException when a required key is missing or has the wrong kind of value
   */
  public static Op toOp(Map<?, ?> map, long position) {
    Object typeValue = map.get(Op.TYPE);
    OpType type = OpType.fromKeyword(typeValue);
    if (type == null) {
      throw new IllegalArgumentException(
          map.containsKey(Op.TYPE)
              ? ":type must be :invoke, :ok, :fail or :info, not " + Edn.write(typeValue)
              : "op map has no :type");
    }
    if (!map.containsKey(Op.PROCESS)) {
      throw new IllegalArgumentException("op map has no :process");
    }
    Object process = map.get(Op.PROCESS);
    if (!(process instanceof Long || process instanceof Keyword)) {
      throw new IllegalArgumentException(
          ":process must be an integer or a keyword, not " + Edn.write(process));
    }
    if (process instanceof Long && !map.containsKey(Op.F)) {
      throw new IllegalArgumentException("client op map has no :f");
    }
    long index = naturalOrAbsent(map, Op.INDEX);
    long time = naturalOrAbsent(map, Op.TIME);
    Map<Object, Object> extra = new LinkedHashMap<>();
    for (Map.Entry<?, ?> entry : map.entrySet()) {
      if (!(entry.getKey() instanceof Keyword k && Op.isStandardKey(k))) {
        extra.put(entry.getKey(), entry.getValue());
      }
    }
    return new Op(
        index == Op.ABSENT ? position : index,
        process,
        type,
        map.get(Op.F),
        map.get(Op.VALUE),
        time,
        extra);
  }

  private static long naturalOrAbsent(Map<?, ?> map, Keyword key) {
    if (!map.containsKey(key)) {
      return Op.ABSENT;
    }
    Object value = map.get(key);
    if (value instanceof Long l && l >= 0) {
      return l;
    }
    throw new IllegalArgumentException(
        key + " must be a non-negative integer, not " + Edn.write(value));
  }

  private static String describe(Object form) {
    String text = Edn.write(form);
    return text.length() > 60 ? text.substring(0, 57) + "..." : text;
  }
}
