package io.ringkv.jepsen.history;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Writes Java values (as {@link EdnReader} produces them) back as EDN text. */
public final class Edn {
  private Edn() {}

  /** The EDN text of {@code value}; lists are written as vectors. */
  public static String write(Object value) {
    StringBuilder sb = new StringBuilder();
    write(value, sb);
    return sb.toString();
  }

  /** Appends the EDN text of {@code value} to {@code sb}. */
  public static void write(Object value, StringBuilder sb) {
    switch (value) {
      case null -> sb.append("nil");
      case Boolean b -> sb.append(b);
      case Long l -> sb.append(l);
      case Integer i -> sb.append(i);
      case Short s -> sb.append(s);
      case Byte b -> sb.append(b);
      case BigInteger big -> sb.append(big).append('N');
      case BigDecimal dec -> sb.append(dec.toPlainString()).append('M');
      case Double d -> writeDouble(d, sb);
      case Float f -> writeDouble(f.doubleValue(), sb);
      case String s -> writeString(s, sb);
      case Character c -> writeCharacter(c, sb);
      case Keyword k -> sb.append(':').append(k.name());
      case Symbol s -> sb.append(s.name());
      case Tagged t -> {
        sb.append('#').append(t.tag()).append(' ');
        write(t.value(), sb);
      }
      case Map<?, ?> map -> writeMap(map, sb);
      case Set<?> set -> writeItems("#{", set, "}", sb);
      case List<?> list -> writeItems("[", list, "]", sb);
      case Collection<?> other -> writeItems("[", other, "]", sb);
      default ->
          throw new IllegalArgumentException(
              "no EDN form for " + value.getClass().getName() + ": " + value);
    }
  }

  private static void writeDouble(double d, StringBuilder sb) {
    if (Double.isNaN(d)) {
      sb.append("##NaN");
    } else if (Double.isInfinite(d)) {
      sb.append(d > 0 ? "##Inf" : "##-Inf");
    } else {
      sb.append(d);
    }
  }

  private static void writeMap(Map<?, ?> map, StringBuilder sb) {
    sb.append('{');
    Iterator<? extends Map.Entry<?, ?>> entries = map.entrySet().iterator();
    while (entries.hasNext()) {
      Map.Entry<?, ?> entry = entries.next();
      write(entry.getKey(), sb);
      sb.append(' ');
      write(entry.getValue(), sb);
      if (entries.hasNext()) {
        sb.append(", ");
      }
    }
    sb.append('}');
  }

  private static void writeItems(String open, Collection<?> items, String close, StringBuilder sb) {
    sb.append(open);
    boolean first = true;
    for (Object item : items) {
      if (!first) {
        sb.append(' ');
      }
      write(item, sb);
      first = false;
    }
    sb.append(close);
  }

  private static void writeString(String s, StringBuilder sb) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\t' -> sb.append("\\t");
        case '\r' -> sb.append("\\r");
        case '\b' -> sb.append("\\b");
        case '\f' -> sb.append("\\f");
        default -> {
          if (Character.isISOControl(c)) {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    sb.append('"');
  }

  private static void writeCharacter(char c, StringBuilder sb) {
    switch (c) {
      case '\n' -> sb.append("\\newline");
      case ' ' -> sb.append("\\space");
      case '\t' -> sb.append("\\tab");
      case '\r' -> sb.append("\\return");
      case '\b' -> sb.append("\\backspace");
      case '\f' -> sb.append("\\formfeed");
      default -> {
        if (Character.isISOControl(c) || Character.isWhitespace(c)) {
          sb.append(String.format("\\u%04x", (int) c));
        } else {
          sb.append('\\').append(c);
        }
      }
    }
  }
}
