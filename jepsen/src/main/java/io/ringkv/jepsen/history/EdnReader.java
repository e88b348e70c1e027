package io.ringkv.jepsen.history;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A small reader for the EDN subset that Jepsen histories use, with exact line and column numbers
 * in every error.
 *
 * <p>Design notes. The reader walks a string with one cursor and keeps line and column as it goes,
 * so an error can say where it happened. Values map to plain Java: nil to {@code null}, booleans,
 * integers to {@link Long} (or {@link BigInteger} when they do not fit), decimals to {@link Double}
 * (or {@link BigDecimal} with an {@code M} suffix), strings, characters, {@link Keyword}, {@link
 * Symbol}, {@link Tagged}, vectors and lists to unmodifiable {@link List}s, maps to unmodifiable
 * insertion-ordered {@link Map}s and sets to unmodifiable {@link Set}s. Vectors and lists are not
 * told apart, just as Clojure's {@code =} does not. Collections may hold nil, so the JDK's {@code
 * List.of} family (which rejects null) is not used. Nesting depth is limited so hostile input
 * cannot overflow the stack.
 */
public final class EdnReader {
  /** Deepest nesting of collections accepted; histories nest three or four levels. */
  static final int NESTING_DEPTH_MAX = 512;

  private final String text;
  private final String source;
  private int position;
  private int line = 1;
  private int column = 1;
  private int depth;

  /**
   * A reader over {@code text}; {@code source} names the input in error messages (a file name, or a
   * label such as {@code --init}).
   */
  public EdnReader(String text, String source) {
    this.text = text;
    this.source = source;
  }

  /**
   * Reads exactly one EDN value from {@code text}; anything after it other than blanks is an error.
   */
  public static Object readOne(String text, String source) throws MalformedEdnException {
    EdnReader reader = new EdnReader(text, source);
    if (!reader.hasNextForm()) {
      throw reader.error("expected an EDN value, found nothing");
    }
    Object value = reader.readValue();
    if (reader.hasNextForm()) {
      throw reader.error("unexpected text after the value");
    }
    return value;
  }

  /** Reads every top-level EDN value in {@code text}. */
  public static List<Object> readAll(String text, String source) throws MalformedEdnException {
    EdnReader reader = new EdnReader(text, source);
    List<Object> values = new ArrayList<>();
    while (reader.hasNextForm()) {
      values.add(reader.readValue());
    }
    return values;
  }

  /** Skips blanks; true when a value follows (then read it with {@link #readValue()}). */
  public boolean hasNextForm() throws MalformedEdnException {
    skipBlanks();
    return !atEnd();
  }

  /** Skips whitespace, commas, {@code ;} comments and {@code #_} discarded forms. */
  void skipBlanks() throws MalformedEdnException {
    while (!atEnd()) {
      char c = peek();
      if (c == ';') {
        while (!atEnd() && peek() != '\n') {
          advance();
        }
      } else if (isBlank(c)) {
        advance();
      } else if (c == '#' && peekAt(1) == '_') {
        advance();
        advance();
        skipBlanks();
        if (atEnd()) {
          throw error("#_ must be followed by a form to discard");
        }
        readValue();
      } else {
        return;
      }
    }
  }

  /** True when nothing but blanks is left (call {@link #skipBlanks()} first). */
  boolean atEnd() {
    return position >= text.length();
  }

  /** The next character, without consuming it; call only when not {@link #atEnd()}. */
  char peek() {
    return text.charAt(position);
  }

  /** Consumes one character (the caller has looked at it with {@link #peek()}). */
  void advance() {
    char c = text.charAt(position++);
    if (c == '\n') {
      line++;
      column = 1;
    } else {
      column++;
    }
  }

  /** 1-based line of the cursor. */
  int line() {
    return line;
  }

  /** 1-based column of the cursor. */
  int column() {
    return column;
  }

  /** An error at the cursor. */
  MalformedEdnException error(String reason) {
    return new MalformedEdnException(source, line, column, reason);
  }

  /** An error at a remembered position. */
  MalformedEdnException errorAt(int atLine, int atColumn, String reason) {
    return new MalformedEdnException(source, atLine, atColumn, reason);
  }

  /** Reads one value at the cursor (blanks already skipped). */
  public Object readValue() throws MalformedEdnException {
    char c = peek();
    switch (c) {
      case '[':
        return Collections.unmodifiableList(readSequence('[', ']', "vector"));
      case '(':
        return Collections.unmodifiableList(readSequence('(', ')', "list"));
      case '{':
        return readMap();
      case '"':
        return readString();
      case '\\':
        return readCharacter();
      case ':':
        return readKeyword();
      case '#':
        return readDispatch();
      case ']', ')', '}':
        throw error("unmatched '" + c + "'");
      default:
        break;
    }
    if (isDigit(c) || ((c == '-' || c == '+') && isDigit(peekAt(1)))) {
      return readNumber();
    }
    if (isSymbolStart(c)) {
      return readSymbolLike();
    }
    throw error("unexpected character '" + printable(c) + "'");
  }

  private List<Object> readSequence(char open, char close, String kind)
      throws MalformedEdnException {
    int startLine = line;
    int startColumn = column;
    enter();
    advance(); // the opening bracket
    List<Object> items = new ArrayList<>();
    while (true) {
      skipBlanks();
      if (atEnd()) {
        throw errorAt(startLine, startColumn, kind + " opened with '" + open + "' is never closed");
      }
      if (peek() == close) {
        advance();
        depth--;
        return items;
      }
      items.add(readValue());
    }
  }

  private Map<Object, Object> readMap() throws MalformedEdnException {
    int startLine = line;
    int startColumn = column;
    enter();
    advance();
    Map<Object, Object> map = new LinkedHashMap<>();
    while (true) {
      skipBlanks();
      if (atEnd()) {
        throw errorAt(startLine, startColumn, "map opened with '{' is never closed");
      }
      if (peek() == '}') {
        advance();
        depth--;
        return Collections.unmodifiableMap(map);
      }
      int keyLine = line;
      int keyColumn = column;
      Object key = readValue();
      skipBlanks();
      if (atEnd() || peek() == '}') {
        throw errorAt(keyLine, keyColumn, "map key " + Edn.write(key) + " has no value");
      }
      Object value = readValue();
      if (map.containsKey(key)) {
        throw errorAt(keyLine, keyColumn, "duplicate map key " + Edn.write(key));
      }
      map.put(key, value);
    }
  }

  private Object readDispatch() throws MalformedEdnException {
    int startLine = line;
    int startColumn = column;
    char next = peekAt(1);
    if (next == '{') {
      advance(); // '#'; readSequence consumes '{'
      List<Object> items = readSequence('{', '}', "set");
      Set<Object> set = new LinkedHashSet<>();
      for (Object item : items) {
        if (!set.add(item)) {
          throw errorAt(startLine, startColumn, "duplicate set element " + Edn.write(item));
        }
      }
      return Collections.unmodifiableSet(set);
    }
    if (next == '#') {
      advance();
      advance();
      String name = readToken();
      return switch (name) {
        case "Inf" -> Double.POSITIVE_INFINITY;
        case "-Inf" -> Double.NEGATIVE_INFINITY;
        case "NaN" -> Double.NaN;
        default -> throw errorAt(startLine, startColumn, "unknown symbolic value ##" + name);
      };
    }
    if (Character.isLetter(next)) { // EDN tags start with a letter
      advance();
      Object tag = readSymbolLike();
      if (!(tag instanceof Symbol symbol)) {
        throw errorAt(startLine, startColumn, "a tag must be a symbol, not " + Edn.write(tag));
      }
      skipBlanks();
      if (atEnd()) {
        throw errorAt(startLine, startColumn, "tag #" + symbol.name() + " has no value");
      }
      return new Tagged(symbol.name(), readValue());
    }
    throw error("unsupported dispatch '#" + (next == 0 ? "" : printable(next)) + "'");
  }

  private String readString() throws MalformedEdnException {
    int startLine = line;
    int startColumn = column;
    advance(); // opening quote
    StringBuilder sb = new StringBuilder();
    while (true) {
      if (atEnd()) {
        throw errorAt(startLine, startColumn, "string is never closed");
      }
      char c = peek();
      if (c == '"') {
        advance();
        return sb.toString();
      }
      if (c == '\\') {
        int escapeLine = line;
        int escapeColumn = column;
        advance();
        if (atEnd()) {
          throw errorAt(startLine, startColumn, "string is never closed");
        }
        char e = peek();
        advance();
        switch (e) {
          case '"' -> sb.append('"');
          case '\\' -> sb.append('\\');
          case 'n' -> sb.append('\n');
          case 't' -> sb.append('\t');
          case 'r' -> sb.append('\r');
          case 'b' -> sb.append('\b');
          case 'f' -> sb.append('\f');
          case 'u' -> sb.append(readUnicodeEscape(escapeLine, escapeColumn));
          default ->
              throw errorAt(
                  escapeLine, escapeColumn, "unknown string escape '\\" + printable(e) + "'");
        }
      } else {
        sb.append(c);
        advance();
      }
    }
  }

  private char readUnicodeEscape(int escapeLine, int escapeColumn) throws MalformedEdnException {
    if (position + 4 > text.length()) {
      throw errorAt(escapeLine, escapeColumn, "\\u needs four hex digits");
    }
    String hex = text.substring(position, position + 4);
    for (int i = 0; i < 4; i++) {
      if (Character.digit(hex.charAt(i), 16) < 0) {
        throw errorAt(escapeLine, escapeColumn, "\\u needs four hex digits, found '" + hex + "'");
      }
    }
    for (int i = 0; i < 4; i++) {
      advance();
    }
    return (char) Integer.parseInt(hex, 16);
  }

  private Character readCharacter() throws MalformedEdnException {
    int startLine = line;
    int startColumn = column;
    advance(); // backslash
    if (atEnd()) {
      throw errorAt(startLine, startColumn, "character literal has no character");
    }
    int start = position;
    advance();
    while (!atEnd() && !isDelimiter(peek())) {
      advance();
    }
    String name = text.substring(start, position);
    if (name.length() == 1) {
      return name.charAt(0);
    }
    return switch (name) {
      case "newline" -> '\n';
      case "space" -> ' ';
      case "tab" -> '\t';
      case "return" -> '\r';
      case "backspace" -> '\b';
      case "formfeed" -> '\f';
      default -> {
        if (name.length() == 5 && name.charAt(0) == 'u') {
          try {
            yield (char) Integer.parseInt(name.substring(1), 16);
          } catch (NumberFormatException e) {
            // falls through to the error below
          }
        }
        throw errorAt(startLine, startColumn, "unknown character literal '\\" + name + "'");
      }
    };
  }

  private Keyword readKeyword() throws MalformedEdnException {
    int startLine = line;
    int startColumn = column;
    advance(); // colon
    if (!atEnd() && peek() == ':') {
      throw errorAt(startLine, startColumn, "auto-resolved keywords (::name) are not EDN");
    }
    String name = readToken();
    if (name.isEmpty()) {
      throw errorAt(startLine, startColumn, "':' must be followed by a keyword name");
    }
    return Keyword.of(name);
  }

  private Object readSymbolLike() throws MalformedEdnException {
    String token = readToken();
    return switch (token) {
      case "nil" -> null;
      case "true" -> Boolean.TRUE;
      case "false" -> Boolean.FALSE;
      default -> new Symbol(token);
    };
  }

  private Object readNumber() throws MalformedEdnException {
    int startLine = line;
    int startColumn = column;
    String token = readToken();
    try {
      if (token.endsWith("N")) {
        return narrow(new BigInteger(stripPlus(token.substring(0, token.length() - 1))));
      }
      if (token.endsWith("M")) {
        return new BigDecimal(stripPlus(token.substring(0, token.length() - 1)));
      }
      if (token.indexOf('.') >= 0 || token.indexOf('e') >= 0 || token.indexOf('E') >= 0) {
        if (!token.matches("[+-]?[0-9]+(\\.[0-9]*)?([eE][+-]?[0-9]+)?")) {
          throw new NumberFormatException(token);
        }
        return Double.parseDouble(token);
      }
      if (!token.matches("[+-]?[0-9]+")) {
        throw new NumberFormatException(token);
      }
      return narrow(new BigInteger(stripPlus(token)));
    } catch (NumberFormatException e) {
      throw errorAt(startLine, startColumn, "malformed number '" + token + "'");
    }
  }

  /** Integers that fit in a long are Longs, so that 1 and 1N compare equal. */
  private static Object narrow(BigInteger value) {
    return value.bitLength() < 64 ? (Object) value.longValue() : value;
  }

  private static String stripPlus(String token) {
    return token.startsWith("+") ? token.substring(1) : token;
  }

  private String readToken() {
    int start = position;
    while (!atEnd() && !isDelimiter(peek())) {
      advance();
    }
    return text.substring(start, position);
  }

  private void enter() throws MalformedEdnException {
    if (++depth > NESTING_DEPTH_MAX) {
      throw error("collections nest deeper than " + NESTING_DEPTH_MAX + " levels");
    }
  }

  private char peekAt(int offset) {
    int at = position + offset;
    return at < text.length() ? text.charAt(at) : 0;
  }

  private static boolean isBlank(char c) {
    return c == ' ' || c == ',' || c == '\n' || c == '\r' || c == '\t' || c == '\f';
  }

  private static boolean isDelimiter(char c) {
    return isBlank(c)
        || c == '['
        || c == ']'
        || c == '('
        || c == ')'
        || c == '{'
        || c == '}'
        || c == '"'
        || c == ';';
  }

  private static boolean isDigit(char c) {
    return c >= '0' && c <= '9';
  }

  private static boolean isSymbolStart(char c) {
    return Character.isLetter(c) || "*+!-_?<>=./&$%|'".indexOf(c) >= 0;
  }

  private static String printable(char c) {
    return Character.isISOControl(c) ? String.format("\\u%04x", (int) c) : String.valueOf(c);
  }
}
