package io.ringkv.client.cli;

import java.util.Iterator;
import java.util.List;
import java.util.Map;

/** Just enough JSON output for ringctl: maps, lists, strings, numbers, booleans, null. */
final class Json {
  private Json() {}

  static String write(Object value) {
    StringBuilder out = new StringBuilder();
    append(out, value);
    return out.toString();
  }

  private static void append(StringBuilder out, Object value) {
    switch (value) {
      case null -> out.append("null");
      case String text -> appendString(out, text);
      case Number number -> out.append(number);
      case Boolean bool -> out.append(bool);
      case Map<?, ?> map -> {
        out.append('{');
        Iterator<? extends Map.Entry<?, ?>> entries = map.entrySet().iterator();
        while (entries.hasNext()) {
          Map.Entry<?, ?> entry = entries.next();
          appendString(out, String.valueOf(entry.getKey()));
          out.append(':');
          append(out, entry.getValue());
          if (entries.hasNext()) {
            out.append(',');
          }
        }
        out.append('}');
      }
      case List<?> list -> {
        out.append('[');
        for (int i = 0; i < list.size(); i++) {
          if (i > 0) {
            out.append(',');
          }
          append(out, list.get(i));
        }
        out.append(']');
      }
      default -> appendString(out, value.toString());
    }
  }

  private static void appendString(StringBuilder out, String text) {
    out.append('"');
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> {
          if (c < 0x20) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    out.append('"');
  }
}
