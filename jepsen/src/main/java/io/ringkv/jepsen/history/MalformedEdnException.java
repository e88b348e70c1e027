package io.ringkv.jepsen.history;

/**
 * Input that is not valid EDN, or EDN that is not a valid history. Carries the 1-based line and
 * column where the problem was seen, and the reason in words.
 */
public final class MalformedEdnException extends Exception {
  private final String source;
  private final int line;
  private final int column;
  private final String reason;

  public MalformedEdnException(String source, int line, int column, String reason) {
    super(source + ":" + line + ":" + column + ": " + reason);
    this.source = source;
    this.line = line;
    this.column = column;
    this.reason = reason;
  }

  /** Where the input came from (a file name, or a label such as {@code --init}). */
  public String source() {
    return source;
  }

  /** 1-based line of the problem. */
  public int line() {
    return line;
  }

  /** 1-based column of the problem. */
  public int column() {
    return column;
  }

  /** What is wrong, without the position. */
  public String reason() {
    return reason;
  }
}
